"""``.ipynb`` → lesson page."""

from __future__ import annotations

import base64
import binascii
import io
import re
import uuid
from pathlib import PurePath

from django.apps import apps
from django.core.files.images import ImageFile
from django.db import transaction
from django.utils.translation import gettext as _

from ..blocks.jupyter import IMAGE_MIMETYPES, IMAGE_REF
from ..conf import app_settings
from ..kernelspecs import available_kernelspecs
from .errors import NotebookImageError, NotebookInvalid, NotebookTooLarge, UnknownKernelspec

__all__ = ["import_notebook", "lesson_page_models", "read_notebook"]

#: Cell metadata key holding a Jupyter block's hidden code: ``{"setup_code": str, "check_code": str}``.
CELL_META_KEY = "lms_cms_blocks"
_ATTACHMENT = re.compile(r"attachment:([^)\s\"']+)")
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def lesson_page_models() -> list[type]:
    """The concrete page models that subclass :class:`~lms_cms_blocks.pages.AbstractLessonPage`."""
    from ..pages import AbstractLessonPage

    return [
        model
        for model in apps.get_models()
        if issubclass(model, AbstractLessonPage) and not model._meta.abstract and not model._meta.proxy
    ]


def read_notebook(data: bytes | str):
    """Parse and validate a notebook (any nbformat version, upgraded to v4) or raise a :class:`NotebookError`."""
    import nbformat
    from nbformat.validator import NotebookValidationError

    if isinstance(data, str):
        data = data.encode("utf-8")
    limit = app_settings.NOTEBOOK_MAX_BYTES
    if len(data) > limit:
        raise NotebookTooLarge(
            _("The notebook is %(size).1f MB; the largest accepted is %(limit).1f MB.")
            % {"size": len(data) / 1e6, "limit": limit / 1e6}
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotebookInvalid(_("The file is not UTF-8 text, so it is not a notebook.")) from None
    try:
        notebook = nbformat.reads(text, as_version=4)
    except nbformat.reader.NotJSONError:
        raise NotebookInvalid(_("The file is not a notebook: it is not valid JSON.")) from None
    except (
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        nbformat.ValidationError,
        nbformat.NBFormatError,
    ) as exc:
        reason = getattr(exc, "message", None) or str(exc)
        raise NotebookInvalid(
            _("The file is not a readable notebook: %(reason)s") % {"reason": reason}
        ) from None
    try:
        nbformat.validate(notebook)
    except (nbformat.ValidationError, NotebookValidationError) as exc:
        reason = getattr(exc, "message", str(exc))
        raise NotebookInvalid(
            _("The notebook is not valid (nbformat): %(reason)s") % {"reason": reason}
        ) from None
    if len(notebook.cells) > app_settings.NOTEBOOK_MAX_CELLS:
        raise NotebookTooLarge(
            _("The notebook has %(count)s cells; the most accepted is %(limit)s.")
            % {"count": len(notebook.cells), "limit": app_settings.NOTEBOOK_MAX_CELLS}
        )
    return notebook


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else (source or "")


class _Importer:
    def __init__(self, notebook, *, environment, collection, name):
        self.notebook = notebook
        self.environment = environment
        self.collection = collection
        self.name = name
        self.images_made = []

    def image(self, data, mime, filename, title):
        """A Wagtail image from base64 ``data``; :class:`NotebookImageError` when it does not decode."""
        from PIL import Image as PILImage
        from wagtail.images import get_image_model

        try:
            raw = base64.b64decode(_text(data), validate=False)
            with PILImage.open(io.BytesIO(raw)) as probe:
                width, height = probe.size
                if width * height > app_settings.NOTEBOOK_MAX_IMAGE_PIXELS:
                    raise NotebookImageError(
                        _("The image %(name)s is too large (%(w)s x %(h)s pixels).")
                        % {"name": filename, "w": width, "h": height}
                    )
                probe.verify()
        except NotebookImageError:
            raise
        except (binascii.Error, ValueError, OSError, PILImage.DecompressionBombError, SyntaxError) as exc:
            raise NotebookImageError(
                _("The image %(name)s in the notebook cannot be decoded: %(reason)s")
                % {"name": filename, "reason": exc}
            ) from None
        kwargs = {"title": title[:255]}
        if self.collection is not None:
            kwargs["collection"] = self.collection
        image = get_image_model()(**kwargs)
        image.file = ImageFile(io.BytesIO(raw), name=filename)
        image.save()
        self.images_made.append(image)
        return image

    def markdown(self, cell):
        source = _text(cell.source)
        attachments = cell.get("attachments") or {}

        def replace(match):
            name = match.group(1)
            bundle = attachments.get(name)
            if not isinstance(bundle, dict):
                raise NotebookInvalid(
                    _("A markdown cell refers to the attachment %(name)s, which the notebook does not have.")
                    % {"name": name}
                )
            mime = next((m for m in IMAGE_MIMETYPES if m in bundle), None)
            if mime is None:
                raise NotebookImageError(
                    _("The attachment %(name)s is not a PNG, JPEG, GIF or WebP image.") % {"name": name}
                )
            image = self.image(bundle[mime], mime, _safe_filename(name, mime), f"{self.name} · {name}")
            return f"image:{image.pk}"

        return {"type": "markdown", "value": _ATTACHMENT.sub(replace, source), "id": str(uuid.uuid4())}

    def code(self, cell, index):
        outputs = []
        for number, output in enumerate(cell.get("outputs") or [], start=1):
            output = dict(output)
            data = output.get("data")
            if isinstance(data, dict):
                data = dict(data)
                for mime in IMAGE_MIMETYPES:
                    if mime in data:
                        image = self.image(
                            data[mime],
                            mime,
                            f"cell{index}-output{number}.{_EXTENSIONS[mime]}",
                            f"{self.name} · cell {index} output {number}",
                        )
                        data[mime] = f"{IMAGE_REF}{image.pk}"
                output["data"] = data
            outputs.append(_plain(output))
        hidden = cell.metadata.get(CELL_META_KEY) or {}
        hidden = hidden if isinstance(hidden, dict) else {}
        return {
            "type": "jupyter",
            "value": {
                "source": _text(cell.source),
                "environment": self.environment,
                "setup_code": str(hidden.get("setup_code") or ""),
                "outputs": outputs,
                "check_code": str(hidden.get("check_code") or ""),
            },
            "id": str(cell.get("id") or uuid.uuid4()) if _is_uuid(cell.get("id")) else str(uuid.uuid4()),
        }

    def raw(self, cell):
        return {
            "type": "code",
            "value": {"language": "text", "code": _text(cell.source), "caption": ""},
            "id": str(uuid.uuid4()),
        }

    def blocks(self):
        result = []
        for index, cell in enumerate(self.notebook.cells, start=1):
            if cell.cell_type == "markdown":
                result.append(self.markdown(cell))
            elif cell.cell_type == "code":
                result.append(self.code(cell, index))
            elif cell.cell_type == "raw":
                result.append(self.raw(cell))
        return result


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _plain(node):
    """A NotebookNode as plain dicts and lists (for JSON)."""
    if isinstance(node, dict):
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    return node


def _safe_filename(name: str, mime: str) -> str:
    stem = PurePath(name).name or "attachment"
    if "." not in stem:
        stem = f"{stem}.{_EXTENSIONS[mime]}"
    return stem[-100:]


def notebook_title(notebook, fallback: str) -> str:
    """The first ``# Heading`` of the first markdown cell, else ``fallback``."""
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in _text(cell.source).splitlines():
            if line.startswith("# "):
                return line[2:].strip()
        break
    return fallback


def resolve_environment(notebook, environment: str | None) -> str:
    """The kernelspec name for the notebook's Jupyter blocks; :class:`UnknownKernelspec` if it is not offered."""
    kernelspec = notebook.metadata.get("kernelspec") or {}
    name = environment or (kernelspec.get("name") if isinstance(kernelspec, dict) else None) or ""
    specs = available_kernelspecs()
    if not name:
        if specs:
            return specs[0][0]
        raise UnknownKernelspec(_("The notebook names no kernel; choose an environment for its code cells."))
    if specs is not None and name not in {spec for spec, _display in specs}:
        raise UnknownKernelspec(
            _(
                "The notebook's kernel %(name)r is not one of the available environments (%(names)s); choose one."
            )
            % {"name": name, "names": ", ".join(spec for spec, _d in specs) or _("none")}
        )
    return name


def import_notebook(
    data: bytes | str,
    *,
    parent,
    page_model=None,
    title: str | None = None,
    slug: str | None = None,
    environment: str | None = None,
    filename: str = "notebook.ipynb",
    user=None,
    publish: bool = False,
    collection=None,
):
    """Create a lesson page under ``parent`` from notebook ``data`` and return it.

    Everything is checked before anything is written, and it is written in one transaction: a notebook that
    fails leaves no page, revision or image behind.
    """
    from django.core.exceptions import ValidationError

    models = lesson_page_models()
    if page_model is None:
        if len(models) != 1:
            raise NotebookInvalid(_("Choose the page type to import into."))
        page_model = models[0]
    notebook = read_notebook(data)
    env = resolve_environment(notebook, environment)
    name = PurePath(filename).stem or "notebook"
    title = (title or notebook_title(notebook, name)).strip()[:255] or name
    with transaction.atomic():
        importer = _Importer(notebook, environment=env, collection=collection, name=title)
        page = page_model(title=title, owner=user, live=False)
        if slug:
            page.slug = slug
        page.body = importer.blocks()
        try:
            parent.add_child(instance=page)
        except ValidationError as exc:
            raise NotebookInvalid("; ".join(exc.messages)) from None
        revision = page.save_revision(user=user, log_action=True)
        if publish:
            revision.publish(user=user)
    return page
