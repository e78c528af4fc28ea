"""Finding a page's Jupyter blocks: the pages a learner may use, and a block by its StreamField id."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from wagtail.fields import StreamField
from wagtail.models import Page

__all__ = ["find_jupyter_block", "page_for_learner"]

#: Every Jupyter block has these children (the block definition's contract); a block found by id must have them.
JUPYTER_CHILDREN = {"source", "environment"}
MAX_DEPTH = 16


def page_for_learner(request, page_id: int) -> Page:
    """The page, as its specific class, if ``request.user`` may see it; else 404 (as for a missing page)."""
    page = Page.objects.filter(pk=page_id).specific().first()
    if page is None:
        raise Http404(_("No such page."))
    if not page.live and not page.permissions_for_user(request.user).can_edit():
        raise Http404(_("No such page."))
    for restriction in page.get_view_restrictions():
        if not restriction.accept_request(request):
            raise Http404(_("No such page."))
    return page


def _search(data: Any, block_id: str, depth: int = 0) -> dict | None:
    if depth > MAX_DEPTH:
        return None
    if isinstance(data, dict):
        value = data.get("value")
        if data.get("id") == block_id and isinstance(value, dict) and value.keys() >= JUPYTER_CHILDREN:
            return value
        children = data.values()
    elif isinstance(data, list | tuple):
        children = data
    else:
        return None
    for child in children:
        found = _search(child, block_id, depth + 1)
        if found is not None:
            return found
    return None


def find_jupyter_block(page: Page, block_id: str) -> dict | None:
    """The raw value (a dict of its children) of the Jupyter block ``block_id`` in any StreamField of ``page``
    (at any depth: inside structs, lists and nested streams), or ``None``."""
    for field in page._meta.get_fields():
        if isinstance(field, StreamField):
            stream = getattr(page, field.name)
            found = _search(list(stream.raw_data), block_id)
            if found is not None:
                return found
    return None
