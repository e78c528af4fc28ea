"""The cell-state API: a learner's saved code, outputs and exercise passes, per page and Jupyter block.

Every request is the learner's own: the state is looked up by ``(request.user, page, block)``, so another
learner's state cannot even be named (it is a 404 like a missing one). Unsafe methods need Django's CSRF token
(DRF's session authentication). Bodies larger than the limits are refused before they are parsed (``413``);
bodies that are not JSON, nest deeper than 64 levels, or hold a lone surrogate or an out-of-range number are a
``400`` (:class:`lms_common.parsers.StrictJSONParser`).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from lms_common.parsers import StrictJSONParser

from ..conf import app_settings
from ..models import CellState
from ..signals import exercise_passed
from .lookup import find_jupyter_block, page_for_learner
from .schema import extend_schema
from .serializers import CellCheckSerializer, CellStateListSerializer, CellStateSerializer

__all__ = ["CellCheckView", "CellStateDetailView", "CellStateListView", "PayloadTooLarge"]

#: Room for JSON syntax and escaping around the source and outputs in one request body.
BODY_OVERHEAD = 64 * 1024


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = gettext_lazy("The request is too large to save.")


class _CellStateBase(GenericAPIView):
    # The learner's own pages call it: the Django session, with DRF's CSRF check on unsafe methods.
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]
    # JSON only, and only JSON the database and the renderer can take back: too deep a nesting, a lone
    # surrogate or a number out of range is a 400 that says what and where.
    parser_classes = [StrictJSONParser]
    filter_backends = []
    pagination_class = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method not in ("GET", "HEAD", "OPTIONS", "DELETE"):
            limit = app_settings.CELL_SOURCE_MAX_BYTES + app_settings.CELL_OUTPUTS_MAX_BYTES + BODY_OVERHEAD
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise PayloadTooLarge(
                    _("The request is too large to save (%(size)d bytes; at most %(limit)d).")
                    % {"size": length, "limit": limit}
                )

    def get_block(self, page, block_id: str) -> dict:
        block = find_jupyter_block(page, block_id)
        if block is None:
            raise Http404(_("This page has no such Jupyter block."))
        return block


class CellStateListView(_CellStateBase):
    """``GET``: the learner's saved state of every Jupyter block of the page."""

    serializer_class = CellStateListSerializer

    @extend_schema(operation_id="lms_cms_blocks_cells_list")
    def get(self, request, page_id: int):
        page = page_for_learner(request, page_id)
        states = CellState.objects.filter(user=request.user, page=page).order_by("block_id")
        return Response({"page": page.pk, "cells": CellStateSerializer(states, many=True).data})


class CellStateDetailView(_CellStateBase):
    """``GET`` the learner's state of one block; ``PATCH`` (or ``PUT``) saves code and/or outputs; ``DELETE``
    resets the block to the original (its code and outputs are forgotten, a pass is kept)."""

    serializer_class = CellStateSerializer

    @extend_schema(operation_id="lms_cms_blocks_cells_retrieve")
    def get(self, request, page_id: int, block_id: str):
        page = page_for_learner(request, page_id)
        state = CellState.objects.filter(user=request.user, page=page, block_id=block_id).first()
        if state is None:
            raise Http404(_("Nothing is saved for this block."))
        return Response(CellStateSerializer(state).data)

    def patch(self, request, page_id: int, block_id: str):
        return self._save(request, page_id, block_id, partial=True)

    def put(self, request, page_id: int, block_id: str):
        return self._save(request, page_id, block_id, partial=False)

    def _save(self, request, page_id, block_id, *, partial):
        page = page_for_learner(request, page_id)
        self.get_block(page, block_id)
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": _("Send a JSON object.")})
        serializer = CellStateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        if not partial:
            fields = {"source": None, "outputs": None, "execution_count": None, **fields}
        state, created = _update_or_create(request.user, page, block_id, fields)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(CellStateSerializer(state).data, status=code)

    def delete(self, request, page_id: int, block_id: str):
        page = page_for_learner(request, page_id)
        with transaction.atomic():
            state = (
                CellState.objects.select_for_update()
                .filter(user=request.user, page=page, block_id=block_id)
                .first()
            )
            if state is not None and state.passed:
                state.source = state.outputs = state.execution_count = None
                state.save(update_fields=["source", "outputs", "execution_count", "updated_at"])
            elif state is not None:
                state.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class CellCheckView(_CellStateBase):
    """``POST {"passed": bool}``: the result of the block's exercise check, as the learner's browser ran it.

    The first pass is recorded and sends :data:`~lms_cms_blocks.signals.exercise_passed`; later reports do not
    change it (a failed check after a pass does not take the pass back).
    """

    serializer_class = CellCheckSerializer

    def post(self, request, page_id: int, block_id: str):
        page = page_for_learner(request, page_id)
        block = self.get_block(page, block_id)
        if not str(block.get("check_code") or "").strip():
            raise ValidationError({"detail": _("This block has no exercise check.")})
        serializer = CellCheckSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        first_pass = False
        if serializer.validated_data["passed"]:
            state, _created = _update_or_create(request.user, page, block_id, {})
            with transaction.atomic():
                updated = CellState.objects.filter(pk=state.pk, passed_at__isnull=True).update(
                    passed_at=timezone.now()
                )
                first_pass = updated == 1
                if first_pass:
                    user = request.user
                    transaction.on_commit(
                        lambda: exercise_passed.send(
                            sender=CellState, user=user, page=page, block_id=block_id
                        )
                    )
        state = CellState.objects.filter(user=request.user, page=page, block_id=block_id).first()
        return Response(
            {
                "block_id": block_id,
                "passed": serializer.validated_data["passed"],
                "passed_at": state.passed_at if state else None,
                "first_pass": first_pass,
            }
        )


def _update_or_create(user, page, block_id: str, fields: dict) -> tuple[CellState, bool]:
    """Save ``fields`` on the learner's state of the block, creating it; safe against a concurrent create."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                return CellState.objects.update_or_create(
                    user=user, page=page, block_id=block_id, defaults=fields
                )
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
