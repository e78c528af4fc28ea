"""What every API view shares: explicit policy classes (the API does not depend on the project's
``REST_FRAMEWORK`` defaults), one ``now`` per request, and 404s with a message."""

from __future__ import annotations

from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated

from lms_common.parsers import StrictJSONParser

from ..pagination import LmsPagination

__all__ = ["ApiViewMixin", "get_or_404", "validated"]


def get_or_404(queryset, message, **lookup):
    """``queryset.get(**lookup)``, or a 404 saying ``message`` (the same answer for "absent" and "not yours")."""
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise NotFound(message) from None


def validated(serializer_class, request, **kwargs) -> dict:
    """The request body validated by ``serializer_class`` (a 400 with each field's message otherwise)."""
    serializer = serializer_class(data=request.data, context={"request": request}, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ApiViewMixin:
    permission_classes = [IsAuthenticated]
    # JSON within bounds: too deep a nesting (a RecursionError in DRF's parser), a lone surrogate or a number
    # out of range is a 400 with a message.
    parser_classes = [StrictJSONParser, FormParser, MultiPartParser]
    pagination_class = LmsPagination
    filter_backends = [DjangoFilterBackend]

    @cached_property
    def now(self):
        """One clock reading per request, so every row of a list is judged at the same moment."""
        return timezone.now()

    @property
    def for_schema(self) -> bool:
        """drf-spectacular builds the schema from a view without a real request or URL arguments."""
        return getattr(self, "swagger_fake_view", False)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": self.now}

    #: The 404 message of ``get_object`` (Django's default names the model class).
    not_found_message = _("Not found.")

    def get_object(self):
        """DRF's ``get_object`` with our 404 message (absent and "not yours" look the same)."""
        lookup_url_kwarg = self.lookup_url_kwarg or self.lookup_field
        queryset = self.filter_queryset(self.get_queryset())
        obj = get_or_404(
            queryset, self.not_found_message, **{self.lookup_field: self.kwargs[lookup_url_kwarg]}
        )
        self.check_object_permissions(self.request, obj)
        return obj
