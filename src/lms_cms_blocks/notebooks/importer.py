"""``.ipynb`` → lesson page."""

from __future__ import annotations

import base64
import binascii
import contextlib
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
#: The Pillow formats a notebook's images may have (those of ``IMAGE_MIMETYPES``; no other decoder is tried).
_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")


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


class _Picture:
    """One image of the notebook (an attachment of a markdown cell or an image output of a code cell): where it
    is, its base64 data, then its bytes and size once :meth:`_Importer.check` has read its header."""

    def __init__(self, *, cell, data, mime, filename, title, output=None, attachment=None):
        self.cell, self.output, self.attachment = cell, output, attachment
        self.data, self.mime, self.filename, self.title = data, mime, filename, title
        self.raw, self.width, self.height = b"", 0, 0
        self.image = None  # the Wagtail image, once written

    @property
    def where(self) -> str:
        if self.attachment is not None:
            return _("cell %(cell)s, attachment %(name)s") % {"cell": self.cell, "name": self.attachment}
        return _("cell %(cell)s, output %(output)s") % {"cell": self.cell, "output": self.output}

    def error(self, message, **params) -> NotebookImageError:
        return NotebookImageError(
            message % {"where": self.where, **params},
            cell=self.cell,
            output=self.output,
            attachment=self.attachment,
        )


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}".removesuffix(".0")


class _Importer:
    """Reads a notebook's images in three steps, so that a refused import writes nothing: :meth:`collect` finds
    them, :meth:`check` reads their headers against the budgets (image count, pixels of each image and of all of
    them) and only then decodes each one, :meth:`write` saves them (:meth:`remove_files` undoes it)."""

    def __init__(self, notebook, *, environment, collection, name):
        self.notebook = notebook
        self.environment = environment
        self.collection = collection
        self.name = name
        self.pictures: dict[tuple, _Picture] = {}
        self.images_made = []

    # -- 1. find the images --------------------------------------------------------------------------------------

    def collect(self):
        for index, cell in enumerate(self.notebook.cells, start=1):
            if cell.cell_type == "markdown":
                attachments = cell.get("attachments") or {}
                for name in dict.fromkeys(_ATTACHMENT.findall(_text(cell.source))):
                    bundle = attachments.get(name)
                    if not isinstance(bundle, dict):
                        raise NotebookInvalid(
                            _(
                                "A markdown cell refers to the attachment %(name)s, which the notebook does not "
                                "have."
                            )
                            % {"name": name}
                        )
                    mime = next((m for m in IMAGE_MIMETYPES if m in bundle), None)
                    if mime is None:
                        raise NotebookImageError(
                            _("The attachment %(name)s is not a PNG, JPEG, GIF or WebP image.")
                            % {"name": name},
                            cell=index,
                            attachment=name,
                        )
                    self.pictures[(index, "attachment", name)] = _Picture(
                        cell=index,
                        attachment=name,
                        data=bundle[mime],
                        mime=mime,
                        filename=_safe_filename(name, mime),
                        title=f"{self.name} · {name}",
                    )
            elif cell.cell_type == "code":
                for number, output in enumerate(cell.get("outputs") or [], start=1):
                    data = output.get("data")
                    if not isinstance(data, dict):
                        continue
                    for mime in IMAGE_MIMETYPES:
                        if mime in data:
                            self.pictures[(index, number, mime)] = _Picture(
                                cell=index,
                                output=number,
                                data=data[mime],
                                mime=mime,
                                filename=f"cell{index}-output{number}.{_EXTENSIONS[mime]}",
                                title=f"{self.name} · cell {index} output {number}",
                            )

    # -- 2. check them: budgets from the headers, then decode each -----------------------------------------------

    def check(self):
        from PIL import Image as PILImage

        pictures = list(self.pictures.values())
        limit = app_settings.NOTEBOOK_MAX_IMAGES
        if len(pictures) > limit:
            raise NotebookTooLarge(
                _("The notebook has %(count)s images; the most accepted is %(limit)s (%(setting)s).")
                % {"count": len(pictures), "limit": limit, "setting": "NOTEBOOK_MAX_IMAGES"}
            )
        each, setting = app_settings.NOTEBOOK_MAX_IMAGE_PIXELS, "NOTEBOOK_MAX_IMAGE_PIXELS"
        guard = PILImage.MAX_IMAGE_PIXELS  # Pillow's decompression-bomb guard, where the site lowered it
        if guard and guard < each:
            each, setting = guard, "PIL.Image.MAX_IMAGE_PIXELS"
        total = 0
        for picture in pictures:
            self._read_header(picture)
            if picture.width * picture.height > each:
                raise picture.error(
                    _(
                        "The image in %(where)s is too large: %(width)s x %(height)s pixels; the largest accepted "
                        "is %(limit)s pixels (%(setting)s)."
                    ),
                    width=picture.width,
                    height=picture.height,
                    limit=each,
                    setting=setting,
                )
            total += picture.width * picture.height
        limit = app_settings.NOTEBOOK_MAX_TOTAL_PIXELS
        if total > limit:
            raise NotebookTooLarge(
                _(
                    "The notebook's images have %(total)s megapixels in all; the most accepted is %(limit)s "
                    "megapixels (%(setting)s)."
                )
                % {
                    "total": _megapixels(total),
                    "limit": _megapixels(limit),
                    "setting": "NOTEBOOK_MAX_TOTAL_PIXELS",
                }
            )
        for picture in pictures:  # within the budgets: now decode them, one at a time
            self._decode(picture)

    @staticmethod
    def _read_header(picture):
        """The image's bytes and size, from its header only (nothing is decoded)."""
        from PIL import Image as PILImage

        text = "".join(_text(picture.data).split())  # Jupyter wraps base64 in lines
        try:
            picture.raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise picture.error(_("The image in %(where)s is not valid base64 data.")) from None
        try:
            with PILImage.open(io.BytesIO(picture.raw), formats=_FORMATS) as probe:
                picture.width, picture.height = probe.size
        # Pillow refuses over twice its MAX_IMAGE_PIXELS (and warns over it: an error where warnings are errors)
        except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
            raise picture.error(
                _(
                    "The image in %(where)s is too large: it claims over %(limit)s pixels (a decompression bomb)."
                ),
                limit=2 * PILImage.MAX_IMAGE_PIXELS,
            ) from None
        except Exception:  # Pillow raises many kinds on bytes that are not an image of a format it was given
            raise picture.error(
                _("The image in %(where)s cannot be read as a PNG, JPEG, GIF or WebP image.")
            ) from None

    @staticmethod
    def _decode(picture):
        """Decode the whole image (a header can be fine and the pixel data cut short or corrupt)."""
        from PIL import Image as PILImage

        try:
            with PILImage.open(io.BytesIO(picture.raw), formats=_FORMATS) as probe:
                probe.verify()  # chunk checksums (PNG)
            with PILImage.open(io.BytesIO(picture.raw), formats=_FORMATS) as image:
                image.load()
        except Exception as exc:  # truncated, corrupt: whatever the decoder says, the editor reads it
            raise picture.error(
                _("The image in %(where)s cannot be decoded: %(reason)s."), reason=str(exc).rstrip(".")
            ) from None

    # -- 3. write them ---------------------------------------------------------------------------------------------

    def write(self):
        from wagtail.images import get_image_model

        model = get_image_model()
        for picture in self.pictures.values():
            kwargs = {"title": picture.title[:255]}
            if self.collection is not None:
                kwargs["collection"] = self.collection
            # width and height given: Django does not decode the image again to find them
            image = model(
                file=ImageFile(io.BytesIO(picture.raw), name=picture.filename),
                width=picture.width,
                height=picture.height,
                **kwargs,
            )
            image.save()
            self.images_made.append(image)
            picture.image = image

    def remove_files(self):
        """Delete the files of the images written (and of any rendition made of them): their rows go with the
        rolled-back transaction, their files would stay."""
        from django.db import DatabaseError

        for image in self.images_made:
            names = [image.file.name]
            renditions = getattr(image, "renditions", None)
            if renditions is not None:
                with contextlib.suppress(DatabaseError):
                    names += [rendition.file.name for rendition in renditions.all()]
            for name in names:
                with contextlib.suppress(OSError):
                    image.file.storage.delete(name)

    # -- the blocks ----------------------------------------------------------------------------------------------

    def markdown(self, cell, index):
        def replace(match):
            return f"image:{self.pictures[(index, 'attachment', match.group(1))].image.pk}"

        return {
            "type": "markdown",
            "value": _ATTACHMENT.sub(replace, _text(cell.source)),
            "id": str(uuid.uuid4()),
        }

    def code(self, cell, index):
        outputs = []
        for number, output in enumerate(cell.get("outputs") or [], start=1):
            output = dict(output)
            data = output.get("data")
            if isinstance(data, dict):
                data = dict(data)
                for mime in IMAGE_MIMETYPES:
                    if mime in data:
                        data[mime] = f"{IMAGE_REF}{self.pictures[(index, number, mime)].image.pk}"
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
                result.append(self.markdown(cell, index))
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

    Everything is checked before anything is written: the notebook's size and cells, its kernel, and its images
    (their count and pixels from their headers, against the budgets, then each one decoded). It is written in one
    transaction, and a failure while writing deletes the image files written: a notebook that fails leaves no
    page, revision, image or file behind.
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
    importer = _Importer(notebook, environment=env, collection=collection, name=title)
    importer.collect()
    importer.check()  # every image read and decoded, within the budgets, before anything is written
    with transaction.atomic():
        try:
            importer.write()
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
        except BaseException:
            importer.remove_files()  # the transaction takes the rows back; the files are ours to delete
            raise
    return page
