"""Wagtail API v2 for lessons: the pages endpoint plus a headless preview of drafts.

Register it in place of Wagtail's ``PagesAPIViewSet``::

    api_router = WagtailAPIRouter("wagtailapi")
    api_router.register_endpoint("pages", LessonPagesAPIViewSet)

``GET pages/?type=app.LessonPage&slug=<slug>&fields=*`` finds a live lesson by slug with its blocks;
``GET pages/preview/?token=<token>`` returns the revision a preview token names (draft or not), in the detail
shape, with ``"preview": true`` in its ``meta``. A bad or expired token is a 400 with a message.

Wagtail's own endpoints answer some query values with a server error: ``?offset=`` past 64 bits (the database
overflows), ``find/?id=abc`` (a ``ValueError``), a NUL in ``?search=`` (PostgreSQL refuses it).
:class:`BoundedQueryMixin` turns each into a 400 with a message before the view runs; the pages endpoint has it,
and :class:`ImagesAPIViewSet` and :class:`DocumentsAPIViewSet` here are Wagtail's with it::

    api_router.register_endpoint("images", lms_cms_blocks.api.ImagesAPIViewSet)
    api_router.register_endpoint("documents", lms_cms_blocks.api.DocumentsAPIViewSet)
"""

from __future__ import annotations

from django.db import models
from django.urls import path
from django.utils.translation import gettext as _
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from wagtail.api.v2.utils import BadRequestError
from wagtail.api.v2.views import PagesAPIViewSet
from wagtail.documents.api.v2.views import DocumentsAPIViewSet as WagtailDocumentsAPIViewSet
from wagtail.images.api.v2.views import ImagesAPIViewSet as WagtailImagesAPIViewSet
from wagtail.models import Revision

from lms_common.jsoninput import check_text

from .preview import InvalidPreviewToken, read_preview_token

__all__ = ["BoundedQueryMixin", "DocumentsAPIViewSet", "ImagesAPIViewSet", "LessonPagesAPIViewSet"]

#: The largest id or count a database's 64-bit integer column holds.
_MAX_INTEGER = 2**63 - 1


class BoundedQueryMixin:
    """Refuses, with a 400 and a message, query values that Wagtail's API v2 views would turn into a 500.

    Every value is text a database can store (no NUL, no lone surrogate); ``offset``, ``limit``, ``id`` and the
    page-tree parameters, and filters on the model's integer fields, are whole numbers within 64 bits.
    """

    integer_query_parameters = frozenset(
        {"offset", "limit", "id", "child_of", "ancestor_of", "descendant_of", "translation_of"}
    )

    def _integer_parameters(self) -> set[str]:
        names = set(self.integer_query_parameters)
        for field in self.model._meta.get_fields():
            if isinstance(field, models.IntegerField | models.AutoField | models.ForeignKey):
                names.add(field.name)
        return names

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        integers = None
        for name, values in request.GET.lists():
            for value in values:
                problem = check_text(name) or check_text(value)
                if problem is not None:
                    raise BadRequestError(
                        _("The query parameter '%(name)s' cannot hold %(problem)s.")
                        % {"name": name.encode("utf-8", "replace").decode()[:40], "problem": problem}
                    )
                if integers is None:
                    integers = self._integer_parameters()
                if name in integers:
                    self._check_integer(name, value)

    @staticmethod
    def _check_integer(name: str, value: str) -> None:
        try:
            number = int(value)
        except ValueError:
            raise BadRequestError(
                _("The query parameter '%(name)s' must be a whole number.") % {"name": name}
            ) from None
        if abs(number) > _MAX_INTEGER:
            raise BadRequestError(
                _("The query parameter '%(name)s' is out of range: at most %(limit)s.")
                % {"name": name, "limit": _MAX_INTEGER}
            )


class ImagesAPIViewSet(BoundedQueryMixin, WagtailImagesAPIViewSet):
    """Wagtail's images endpoint, with :class:`BoundedQueryMixin`'s answers to hostile query values."""


class DocumentsAPIViewSet(BoundedQueryMixin, WagtailDocumentsAPIViewSet):
    """Wagtail's documents endpoint, with :class:`BoundedQueryMixin`'s answers to hostile query values."""


class LessonPagesAPIViewSet(BoundedQueryMixin, PagesAPIViewSet):
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
