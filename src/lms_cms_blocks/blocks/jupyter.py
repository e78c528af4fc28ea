"""The Jupyter block: a runnable code cell.

Child blocks (their names are a contract with the learner-side runtime and with stored content):

``source``
    the code the learner sees and edits (may be empty);
``environment``
    the kernelspec name the cell runs in, chosen from ``LMS_CMS_BLOCKS["KERNELSPECS"]``;
``setup_code``
    hidden code run before the learner's first execution (optional);
``outputs``
    precomputed outputs: a list of nbformat v4 output dicts (optional; validated with nbformat's schema);
``check_code``
    hidden code run after the learner's code to check an exercise (optional).

Images in ``outputs`` may be stored as Wagtail images (notebook import does this): the stored mime-bundle value
is then ``"lms-image:<id>"``; reading the block turns it back into the image's base64 data, with
``metadata["lms_cms_blocks"][mime] = {"id": ..., "url": ...}`` beside it, so every reader sees valid nbformat
outputs.
"""

from __future__ import annotations

import base64
import copy
import json
import logging

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from ..kernelspecs import available_kernelspecs

__all__ = ["JupyterBlock", "KernelspecBlock", "OutputsBlock", "may_see_hidden_code"]

logger = logging.getLogger(__name__)

#: Prefix of a stored image reference inside an output's mime bundle.
IMAGE_REF = "lms-image:"
#: Key of our metadata inside an output's ``metadata``.
META_KEY = "lms_cms_blocks"
#: Output mime types that notebook import moves into Wagtail images.
IMAGE_MIMETYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def may_see_hidden_code(context) -> bool:
    """Whether setup/check code may be shown: a headless preview (``context["lms_preview"]``), a Wagtail preview
    (``request.is_preview``), or a request by a user who may use Wagtail's admin (``wagtailadmin.access_admin``)."""
    if not context:
        return False
    if context.get("lms_preview"):
        return True
    request = context.get("request")
    if request is None:
        return False
    if getattr(request, "is_preview", False):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.has_perm("wagtailadmin.access_admin"))


class KernelspecBlock(blocks.FieldBlock):
    """A kernelspec name, chosen from the configured list (a free-text field when the list is unavailable)."""

    def __init__(self, required=True, help_text=None, **kwargs):
        self._required = required
        self._help_text = help_text
        super().__init__(**kwargs)

    @property
    def field(self):
        specs = available_kernelspecs()
        if specs is None:
            return forms.CharField(
                required=self._required,
                max_length=64,
                help_text=_(
                    "Warning: the list of kernels could not be loaded, so type the kernelspec name "
                    "(for example python3). It is checked again when the list is available."
                ),
            )
        return forms.ChoiceField(
            required=self._required,
            choices=[("", "---------"), *specs],
            help_text=self._help_text or _("The environment (kernel) this cell runs in."),
        )

    def clean(self, value):
        specs = available_kernelspecs()
        if value and specs is not None and value not in {name for name, _display in specs}:
            raise ValidationError(
                _("Unknown kernelspec %(name)r. Available: %(names)s."),
                code="unknown_kernelspec",
                params={"name": value, "names": ", ".join(name for name, _d in specs) or _("none")},
            )
        return super().clean(value)

    def to_python(self, value):
        return value or ""

    class Meta:
        icon = "cogs"
        default = ""


def _as_outputs(value) -> list:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, list) else []


def validate_outputs(outputs) -> None:
    """Raise :class:`ValidationError` unless ``outputs`` is a list of valid nbformat v4 outputs."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook
    from nbformat.validator import NotebookValidationError

    if not isinstance(outputs, list):
        raise ValidationError(_("Outputs must be a JSON list of nbformat outputs."), code="invalid_outputs")
    for index, output in enumerate(outputs, start=1):
        try:
            nbformat.validate(new_notebook(cells=[new_code_cell(outputs=[output])]))
        except (nbformat.ValidationError, NotebookValidationError) as exc:
            raise ValidationError(
                _("Output %(index)s is not a valid nbformat output: %(reason)s"),
                code="invalid_outputs",
                params={"index": index, "reason": getattr(exc, "message", str(exc))},
            ) from None


def resolve_images(outputs: list) -> list:
    """Stored outputs → readable ones: ``"lms-image:<id>"`` values become base64 data (see the module doc)."""
    if not any(
        IMAGE_REF in json.dumps(output.get("data", {})) for output in outputs if isinstance(output, dict)
    ):
        return outputs
    from wagtail.images import get_image_model

    outputs = copy.deepcopy(outputs)
    for output in outputs:
        data = output.get("data") if isinstance(output, dict) else None
        if not isinstance(data, dict):
            continue
        for mime, item in list(data.items()):
            if not (isinstance(item, str) and item.startswith(IMAGE_REF)):
                continue
            ref = item[len(IMAGE_REF) :]
            image = get_image_model().objects.filter(pk=int(ref)).first() if ref.isdigit() else None
            try:
                with image.file.open("rb") as fh:
                    data[mime] = base64.b64encode(fh.read()).decode("ascii")
            except Exception:  # image deleted or file missing: say so instead of a broken image
                logger.warning("Output image %s is missing", item)
                del data[mime]
                data.setdefault("text/plain", str(_("[image unavailable]")))
                continue
            meta = output.setdefault("metadata", {}).setdefault(META_KEY, {})
            meta[mime] = {"id": image.pk, "url": image.file.url}
    return outputs


def compact_images(outputs: list) -> list:
    """Readable outputs → stored ones: data of an image we hold is replaced by its reference."""
    compacted = []
    for output in outputs:
        meta = output.get("metadata", {}).get(META_KEY) if isinstance(output, dict) else None
        if not isinstance(meta, dict):
            compacted.append(output)
            continue
        output = copy.deepcopy(output)
        for mime, ref in meta.items():
            if isinstance(ref, dict) and "id" in ref and mime in output.get("data", {}):
                output["data"][mime] = f"{IMAGE_REF}{ref['id']}"
        del output["metadata"][META_KEY]
        compacted.append(output)
    return compacted


class OutputsBlock(blocks.FieldBlock):
    """Precomputed outputs (a JSON list of nbformat v4 outputs)."""

    def __init__(self, required=False, help_text=None, **kwargs):
        self.field = forms.JSONField(
            required=required,
            widget=forms.Textarea(attrs={"rows": 4, "class": "lms-outputs-json"}),
            help_text=help_text
            or _(
                "Optional. Outputs shown before the learner runs the cell: a JSON list of nbformat outputs."
            ),
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            return resolve_images(_as_outputs(value))
        except ValueError:
            logger.warning("Stored outputs are not JSON; shown as none")
            return []

    def get_prep_value(self, value):
        return compact_images(_as_outputs(value))

    def value_from_form(self, value):
        return value if value not in (None, "") else []

    def clean(self, value):
        value = super().clean(value)
        validate_outputs(value)
        return value

    def normalize(self, value):
        return self.to_python(value) if not isinstance(value, list) else value

    class Meta:
        icon = "table"
        default = []


class JupyterBlock(blocks.StructBlock):
    """A code cell learners run in their browser, in a kernel of the chosen environment.

    Template context: ``value`` (this block's value), ``block_id`` and ``page`` (from ``BaseStreamBlock``), and
    ``show_hidden_code`` (see :func:`may_see_hidden_code`).

    API: ``{"source": str, "environment": str, "outputs": [nbformat output, ...], "has_setup": bool,
    "is_exercise": bool}``; for staff and previews also ``"setup_code": str`` and ``"check_code": str``.
    """

    source = blocks.TextBlock(label=_("code"), required=False, rows=6)
    environment = KernelspecBlock(label=_("environment"))
    setup_code = blocks.TextBlock(
        label=_("setup code"),
        required=False,
        rows=3,
        help_text=_("Optional, hidden from learners: run once before the learner's first execution."),
    )
    outputs = OutputsBlock(label=_("outputs"))
    check_code = blocks.TextBlock(
        label=_("check code"),
        required=False,
        rows=3,
        help_text=_(
            "Optional, hidden from learners: run after the learner's code; the exercise passes when it raises "
            "no error. Filling it in makes this cell an exercise."
        ),
    )

    class Meta:
        icon = "code"
        label = _("Jupyter cell")
        template = "lms_cms_blocks/blocks/jupyter.html"

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        context["show_hidden_code"] = may_see_hidden_code(parent_context)
        return context

    def get_api_representation(self, value, context=None):
        representation = {
            "source": value.get("source") or "",
            "environment": value.get("environment") or "",
            "outputs": list(value.get("outputs") or []),
            "has_setup": bool((value.get("setup_code") or "").strip()),
            "is_exercise": bool((value.get("check_code") or "").strip()),
        }
        if may_see_hidden_code(context):
            representation["setup_code"] = value.get("setup_code") or ""
            representation["check_code"] = value.get("check_code") or ""
        return representation
