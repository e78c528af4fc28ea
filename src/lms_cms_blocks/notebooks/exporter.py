"""Lesson page → ``.ipynb`` (nbformat v4).

Markdown blocks become markdown cells (``image:ID`` references become attachments), Jupyter blocks code cells
(outputs included; setup and check code in the cell's ``metadata["lms_cms_blocks"]``), plain-text code listings raw cells, and every other block a
markdown cell that reads the same (headings, quotes, callouts, code listings as fenced code, images as
attachments, embeds and documents as links). The notebook's kernelspec is the first Jupyter block's environment.
"""

from __future__ import annotations

import base64
import copy
import logging
import mimetypes
import re

from django.utils.html import strip_tags

from ..blocks.jupyter import META_KEY, JupyterBlock
from ..blocks.text import rich_text_html
from .importer import CELL_META_KEY

__all__ = ["export_notebook", "export_notebook_bytes"]

logger = logging.getLogger(__name__)

_IMAGE_REF = re.compile(r"\]\(image:(\d+)\)")


def _attachment(image):
    with image.file.open("rb") as fh:
        data = base64.b64encode(fh.read()).decode("ascii")
    name = image.file.name.rsplit("/", 1)[-1]
    mime = mimetypes.guess_type(name)[0] or "image/png"
    return name, {mime: data}


def _markdown_cell(source, images=()):
    from nbformat.v4 import new_markdown_cell
    from wagtail.images import get_image_model

    attachments = {}

    def replace(match):
        image = get_image_model().objects.filter(pk=int(match.group(1))).first()
        if image is None:
            return match.group(0)
        try:
            name, bundle = _attachment(image)
        except OSError:
            logger.warning("Image %s has no file; its reference is kept", image.pk)
            return match.group(0)
        attachments[name] = bundle
        return f"](attachment:{name})"

    source = _IMAGE_REF.sub(replace, source)
    cell = new_markdown_cell(source)
    if attachments:
        cell.attachments = attachments
    return cell


def _portable(outputs):
    """Outputs without our metadata (image ids and URLs of this site): the images' data is inline already."""
    import nbformat

    result = []
    for output in outputs:
        output = copy.deepcopy(output)
        if isinstance(output.get("metadata"), dict):
            output["metadata"].pop(META_KEY, None)
        result.append(nbformat.from_dict(output))
    return result


def _block_cell(child):
    from nbformat.v4 import new_code_cell

    block_type, value = child.block_type, child.value
    if isinstance(child.block, JupyterBlock):
        cell = new_code_cell(source=value.get("source") or "", outputs=_portable(value.get("outputs") or []))
        hidden = {key: value.get(key) for key in ("setup_code", "check_code") if value.get(key)}
        if hidden:
            cell.metadata[CELL_META_KEY] = hidden
        if child.id:
            cell.id = str(child.id)
        return cell
    if block_type == "markdown":
        return _markdown_cell(value or "")
    if block_type == "heading":
        level = child.block.level_of(value) if hasattr(child.block, "level_of") else 2
        return _markdown_cell(f"{'#' * level} {value.get('text') or ''}")
    if block_type == "paragraph":
        return _markdown_cell(rich_text_html(value))
    if block_type == "quote":
        lines = [f"> {line}" for line in (value.get("quote") or "").splitlines()]
        if value.get("attribution"):
            lines += [">", f"> — {value['attribution']}"]
        return _markdown_cell("\n".join(lines))
    if block_type == "callout":
        title = value.get("title") or str(value.get("kind") or "note").capitalize()
        return _markdown_cell(f"> **{title}**\n>\n> {strip_tags(rich_text_html(value.get('body')))}")
    if block_type == "code" and (value.get("language") or "text") == "text" and not value.get("caption"):
        from nbformat.v4 import new_raw_cell

        return new_raw_cell(value.get("code") or "")  # a plain-text listing reads the same as a raw cell
    if block_type == "code":
        return _markdown_cell(f"```{value.get('language') or ''}\n{value.get('code') or ''}\n```")
    if block_type == "image" and value.get("image") is not None:
        image = value["image"]
        alt = value.get("alt") or image.title
        caption = f"\n\n*{value['caption']}*" if value.get("caption") else ""
        return _markdown_cell(f"![{alt}](image:{image.pk}){caption}")
    if block_type == "embed":
        url = getattr(value.get("embed"), "url", "") or ""
        return _markdown_cell(f"[{value.get('caption') or url}]({url})")
    if block_type == "document" and value.get("document") is not None:
        document = value["document"]
        return _markdown_cell(f"[{value.get('title') or document.title}]({document.url})")
    # A project's own block: its API representation, readable, as a markdown cell.
    return None


def export_notebook(page):
    """The notebook (an nbformat v4 ``NotebookNode``) of a lesson page."""
    from nbformat.v4 import new_notebook

    cells = []
    environment = ""
    for child in page.body:
        try:
            cell = _block_cell(child)
        except Exception:
            logger.exception("Block %s of page %s could not be exported", child.id, page.pk)
            continue
        if cell is None:
            continue
        if child.id:
            cell.id = str(child.id)[:64]  # stable ids: an unchanged lesson exports to the same bytes
        if cell.cell_type == "code" and not environment:
            environment = child.value.get("environment") or ""
        cells.append(cell)
    notebook = new_notebook(cells=cells)
    notebook.metadata["title"] = page.title
    if environment:
        notebook.metadata["kernelspec"] = {
            "name": environment,
            "display_name": environment,
            "language": "python",
        }
        from ..kernelspecs import available_kernelspecs

        for name, display in available_kernelspecs() or []:
            if name == environment:
                notebook.metadata["kernelspec"]["display_name"] = display
    return notebook


def export_notebook_bytes(page) -> bytes:
    """The notebook as ``.ipynb`` bytes, stable for version control (sorted keys, one-space indent, final
    newline: the format Jupyter writes)."""
    import nbformat

    return (nbformat.writes(export_notebook(page)) + "\n").encode("utf-8")
