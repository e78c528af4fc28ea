"""Wagtail API v2 for lessons: the pages endpoint plus a headless preview of drafts.

Register it in place of Wagtail's ``PagesAPIViewSet``::

    api_router = WagtailAPIRouter("wagtailapi")
    api_router.register_endpoint("pages", LessonPagesAPIViewSet)

``GET pages/?type=app.LessonPage&slug=<slug>&fields=*`` finds a live lesson by slug with its blocks;
``GET pages/preview/?token=<token>`` returns the revision a preview token names (draft or not), in the detail
shape, with ``"preview": true`` in its ``meta``. A bad or expired token is a 400 with a message.
"""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext as _
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from wagtail.api.v2.utils import BadRequestError
from wagtail.api.v2.views import PagesAPIViewSet
from wagtail.models import Revision

from .preview import InvalidPreviewToken, read_preview_token

__all__ = ["LessonPagesAPIViewSet"]


class LessonPagesAPIViewSet(PagesAPIViewSet):
    #: Live public pages are public content, whatever the project's default DRF permissions (Wagtail's endpoint
    #: serves only live pages without view restrictions); a preview token is its own credential.
    permission_classes = [AllowAny]
    known_query_parameters = PagesAPIViewSet.known_query_parameters.union(["token"])

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action == "preview_view":
            context["lms_preview"] = True
        return context

    def get_object(self):
        if self.action == "preview_view":
            return self._preview_object
        return super().get_object()

    def preview_view(self, request):
        token = request.GET.get("token")
        if not token:
            raise BadRequestError(_("A preview needs a token (?token=...)."))
        try:
            claims = read_preview_token(token)
        except InvalidPreviewToken as exc:
            raise BadRequestError(str(exc)) from None
        revision = Revision.page_revisions.filter(
            pk=claims.get("revision"), object_id=str(claims.get("page"))
        ).first()
        if revision is None:
            raise BadRequestError(_("The previewed revision no longer exists."))
        page = revision.as_object()
        self._preview_object = page
        serializer = self.get_serializer(page)
        data = serializer.data
        data.setdefault("meta", {})["preview"] = True
        data["meta"]["revision_id"] = revision.pk
        return Response(data)

    @classmethod
    def get_urlpatterns(cls):
        return [
            path("preview/", cls.as_view({"get": "preview_view"}), name="preview"),
            *super().get_urlpatterns(),
        ]
