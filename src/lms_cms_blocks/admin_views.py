"""Admin views: notebook import and export, headless preview tokens."""

from __future__ import annotations

import contextlib

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from wagtail.admin import messages
from wagtail.models import Page

from .conf import app_settings
from .forms import NotebookImportForm
from .notebooks import NotebookError, export_notebook_bytes, import_notebook
from .pages import AbstractLessonPage
from .preview import make_preview_token

#: URL name of the preview endpoint, as the example project's API router names it.
PREVIEW_URL_NAME = "wagtailapi:pages:preview"


def import_notebook_view(request):
    form = NotebookImportForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            page = import_notebook(
                data["notebook"].read(app_settings.NOTEBOOK_MAX_BYTES + 1),
                parent=data["parent"].specific,
                page_model=data["page_model"],
                title=data.get("title") or None,
                environment=data.get("environment") or None,
                filename=data["notebook"].name,
                user=request.user,
            )
        except NotebookError as exc:
            form.add_error("notebook", str(exc))
        else:
            messages.success(
                request, _("Notebook imported as the draft lesson “%(title)s”.") % {"title": page.title}
            )
            return redirect("wagtailadmin_pages:edit", page.pk)
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(
        request,
        "lms_cms_blocks/admin/import_notebook.html",
        {"form": form, "page_title": _("Import a notebook"), "header_title": _("Import a notebook")},
        status=status,
    )


def _editable_lesson(request, page_id):
    page = get_object_or_404(Page, pk=page_id).specific
    if not isinstance(page, AbstractLessonPage):
        raise PermissionDenied
    if not page.permissions_for_user(request.user).can_edit():
        raise PermissionDenied
    return page


def export_notebook_view(request, page_id):
    page = _editable_lesson(request, page_id)
    page = page.get_latest_revision_as_object()
    response = HttpResponse(export_notebook_bytes(page), content_type="application/x-ipynb+json")
    filename = (slugify(page.slug or page.title, allow_unicode=True) or "lesson") + ".ipynb"
    from django.utils.encoding import escape_uri_path

    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{escape_uri_path(filename)}"
    return response


@require_http_methods(["GET", "POST"])
def preview_token_view(request, page_id):
    """GET: a page with a button; POST: a token for the latest revision, as JSON (or that page again, showing
    the link, when the button sent ``format=html``)."""
    page = _editable_lesson(request, page_id)
    context = {"page": page, "page_title": _("Headless preview"), "header_title": _("Headless preview")}
    context["max_age_minutes"] = app_settings.PREVIEW_TOKEN_MAX_AGE // 60
    if request.method == "GET":
        return TemplateResponse(request, "lms_cms_blocks/admin/preview_token.html", context)
    revision = page.get_latest_revision() or page.save_revision(user=request.user)
    token = make_preview_token(revision)
    answer = {"token": token, "revision_id": revision.pk, "expires_in": app_settings.PREVIEW_TOKEN_MAX_AGE}
    with contextlib.suppress(NoReverseMatch):
        answer["url"] = request.build_absolute_uri(reverse(PREVIEW_URL_NAME)) + "?token=" + token
    if request.POST.get("format") == "html":
        return TemplateResponse(
            request, "lms_cms_blocks/admin/preview_token.html", {**context, "answer": answer}
        )
    return JsonResponse(answer)
