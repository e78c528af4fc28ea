"""Shapes of the cell-state API."""

from __future__ import annotations

import json

from django.utils.translation import gettext as _
from rest_framework import serializers

from ..conf import app_settings
from ..models import CellState

__all__ = ["CellCheckSerializer", "CellStateListSerializer", "CellStateSerializer"]

OUTPUT_TYPES = {"stream", "display_data", "execute_result", "error"}


def _without_nul(value):
    """``value`` with NUL characters in its strings replaced (PostgreSQL's jsonb cannot store them)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


def _size(value) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


class CellStateSerializer(serializers.ModelSerializer):
    passed = serializers.BooleanField(read_only=True)
    source = serializers.CharField(allow_null=True, allow_blank=True, trim_whitespace=False, required=False)
    outputs = serializers.JSONField(allow_null=True, required=False)

    class Meta:
        model = CellState
        fields = ["block_id", "source", "outputs", "execution_count", "passed", "passed_at", "updated_at"]
        read_only_fields = ["block_id", "passed", "passed_at", "updated_at"]

    def validate_source(self, value):
        limit = app_settings.CELL_SOURCE_MAX_BYTES
        if value is not None and len(value.encode()) > limit:
            raise serializers.ValidationError(
                _("The code is too long to save: at most %(limit)d bytes.") % {"limit": limit}
            )
        if value is not None and "\x00" in value:
            raise serializers.ValidationError(_("The code contains a NUL character."))
        return value

    def validate_outputs(self, value):
        if value is None:
            return value
        if not isinstance(value, list):
            raise serializers.ValidationError(_("Outputs must be a list of Jupyter output objects."))
        for index, output in enumerate(value):
            if not isinstance(output, dict) or output.get("output_type") not in OUTPUT_TYPES:
                raise serializers.ValidationError(
                    _("Output %(index)d is not a Jupyter output (its output_type must be one of %(types)s).")
                    % {"index": index, "types": ", ".join(sorted(OUTPUT_TYPES))}
                )
        limit = app_settings.CELL_OUTPUTS_MAX_BYTES
        if _size(value) > limit:
            raise serializers.ValidationError(
                _("The outputs are too large to save: at most %(limit)d bytes.") % {"limit": limit}
            )
        return _without_nul(value)


class CellStateListSerializer(serializers.Serializer):
    page = serializers.IntegerField(read_only=True, help_text="The page's id.")
    cells = CellStateSerializer(many=True, read_only=True)


class CellCheckSerializer(serializers.Serializer):
    """In: ``passed``. Out: also the block, the time of the first pass, and whether this report was it."""

    block_id = serializers.CharField(read_only=True)
    passed = serializers.BooleanField(
        help_text="Whether the block's exercise check passed in the learner's kernel."
    )
    passed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    first_pass = serializers.BooleanField(read_only=True)
