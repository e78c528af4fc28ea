"""Helpers of the Jupyter block's runtime tests: a lesson page with Jupyter blocks, CSRF-checking clients."""

from __future__ import annotations

from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from wagtail.models import Page, Site

from tests.lms_cms_blocks.cells_site.models import CellsLessonPage

CHECK = "assert answer == 42, f'answer is {answer!r}, not 42'"


def make_lesson(
    title="Cells lesson", slug="cells-lesson", body=None, parent=None, live=True
) -> CellsLessonPage:
    if body is None:
        body = [
            (
                "jupyter",
                {"source": "answer = 6 * 7\nprint(answer)", "environment": "python3", "check_code": CHECK},
            ),
            (
                "jupyter",
                {
                    "source": "1 + 1",
                    "environment": "python3",
                    "outputs": [{"output_type": "stream", "name": "stdout", "text": "2\n"}],
                },
            ),
        ]
    if parent is None:  # the default site's home page, else the tree's root
        site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
        parent = site.root_page if site else Page.get_first_root_node()
    page = CellsLessonPage(title=title, slug=slug, body=body, live=live)
    parent.add_child(instance=page)
    page.save_revision()
    return page


def block_ids(page) -> list[str]:
    return [child.id for child in page.body]


class CsrfClient(Client):
    """A client that, like a browser, has Django's CSRF cookie and sends the token header on unsafe methods
    (``csrf=False`` on a call leaves the header out)."""

    def __init__(self, **kwargs):
        super().__init__(enforce_csrf_checks=True, **kwargs)
        self.csrf_token = _get_new_csrf_string()
        self.cookies["csrftoken"] = self.csrf_token

    def generic(
        self,
        method,
        path,
        data="",
        content_type="application/octet-stream",
        secure=False,
        *,
        csrf=True,
        **extra,
    ):
        if csrf and method not in ("GET", "HEAD", "OPTIONS"):
            extra.setdefault("HTTP_X_CSRFTOKEN", self.csrf_token)
        return super().generic(method, path, data, content_type, secure=secure, **extra)
