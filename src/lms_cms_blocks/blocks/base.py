"""``BaseStreamBlock``: the lesson body's stream, which projects extend with blocks of their own."""

from __future__ import annotations

import logging

from django.template.loader import render_to_string
from django.utils.html import format_html_join
from wagtail import blocks

from .code import CodeBlock
from .jupyter import JupyterBlock
from .media import DocumentBlock, EmbedBlock, ImageBlock
from .text import BlockQuoteBlock, CalloutBlock, HeadingBlock, MarkdownBlock, ParagraphBlock

__all__ = ["BaseStreamBlock"]

logger = logging.getLogger(__name__)


class BaseStreamBlock(blocks.StreamBlock):
    """The blocks of a lesson body.

    Rendering gives each child's template, besides Wagtail's own context, ``block_id`` (the child's UUID string,
    ``""`` for a child without one) and ``page`` (the page from the parent context, or the lesson page the stream
    belongs to, or ``None``). A child that fails to render (invalid stored data, a missing template) is logged and
    replaced by a short notice, so the page still renders.

    API: a list of ``{"type": str, "value": <the block's shape>, "id": str}``; a child whose data cannot be
    represented appears as ``{"type": str, "value": null, "id": str, "error": "invalid_block"}``.
    """

    heading = HeadingBlock()
    paragraph = ParagraphBlock()
    markdown = MarkdownBlock()
    image = ImageBlock()
    quote = BlockQuoteBlock()
    callout = CalloutBlock()
    code = CodeBlock()
    jupyter = JupyterBlock()
    embed = EmbedBlock()
    document = DocumentBlock()

    def _children(self, value):
        """``(index, child or None)`` for each child; ``None`` where the stored data cannot be read."""
        for index in range(len(value)):
            try:
                yield index, value[index]
            except Exception:
                logger.exception("Block %s of a stream could not be read", index)
                yield index, None

    def render_basic(self, value, context=None):
        context = dict(context or {})
        page = context.get("page") or getattr(value, "lms_page", None)
        parts = []
        for index, child in self._children(value):
            block_type = child.block_type if child is not None else "invalid"
            block_id = str(child.id) if child is not None and child.id else ""
            try:
                if child is None:
                    raise ValueError(f"unreadable block at position {index}")
                html = child.render(context={**context, "block_id": block_id, "page": page})
            except Exception:
                logger.exception("Block %s (%s, id %s) could not be rendered", index, block_type, block_id)
                html = render_to_string("lms_cms_blocks/blocks/error.html", {"block_type": block_type})
            parts.append((html, block_type, block_id))
        return format_html_join(
            "\n",
            '<div class="lms-block lms-block--{1}" data-block-id="{2}">{0}</div>',
            parts,
        )

    def get_api_representation(self, value, context=None):
        if value is None:
            return []
        result = []
        for index, child in self._children(value):
            if child is None:
                result.append({"type": "invalid", "value": None, "id": "", "error": "invalid_block"})
                continue
            try:
                item = child.block.get_api_representation(child.value, context=context)
            except Exception:
                logger.exception(
                    "Block %s (%s, id %s) has no API representation", index, child.block_type, child.id
                )
                result.append(
                    {"type": child.block_type, "value": None, "id": child.id, "error": "invalid_block"}
                )
                continue
            result.append({"type": child.block_type, "value": item, "id": child.id})
        return result
