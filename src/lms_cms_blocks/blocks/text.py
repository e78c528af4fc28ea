"""Text blocks: heading, paragraph (rich text), markdown (with math), block quote, callout."""

from __future__ import annotations

from django.utils.functional import cached_property
from django.utils.html import strip_tags
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.rich_text import RichText

from ..markdown_html import render_markdown

__all__ = ["BlockQuoteBlock", "CalloutBlock", "HeadingBlock", "MarkdownBlock", "ParagraphBlock"]


def rich_text_html(value) -> str:
    """Front-end HTML of a rich text value (internal page and document links expanded)."""
    if value is None:
        return ""
    if not isinstance(value, RichText):
        value = RichText(str(value))
    return str(value.__html__())


class HeadingBlock(blocks.StructBlock):
    """A section heading. API: ``{"text": str, "level": 2|3|4, "anchor": str}``."""

    text = blocks.CharBlock(label=_("text"), max_length=255)
    level = blocks.ChoiceBlock(
        label=_("level"),
        choices=[("2", _("Section (h2)")), ("3", _("Subsection (h3)")), ("4", _("Minor heading (h4)"))],
        default="2",
    )

    class Meta:
        icon = "title"
        label = _("Heading")
        template = "lms_cms_blocks/blocks/heading.html"

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        context["level"] = self.level_of(value)
        context["anchor"] = self.anchor_of(value)
        return context

    @staticmethod
    def level_of(value) -> int:
        try:
            level = int(value.get("level") or 2)
        except (TypeError, ValueError):
            return 2
        return level if level in (2, 3, 4) else 2

    @staticmethod
    def anchor_of(value) -> str:
        return slugify(value.get("text") or "", allow_unicode=True)

    def get_api_representation(self, value, context=None):
        return {
            "text": value.get("text") or "",
            "level": self.level_of(value),
            "anchor": self.anchor_of(value),
        }


class ParagraphBlock(blocks.RichTextBlock):
    """Rich text. API: ``{"html": str}`` (front-end HTML: links to pages and documents expanded)."""

    class Meta:
        icon = "pilcrow"
        label = _("Paragraph")
        template = "lms_cms_blocks/blocks/paragraph.html"

    def get_api_representation(self, value, context=None):
        return {"html": rich_text_html(value)}


class MarkdownBlock(blocks.TextBlock):
    """Markdown with ``$...$``/``$$...$$`` math. API: ``{"markdown": str, "html": str}`` (html sanitized)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("rows", 8)
        super().__init__(**kwargs)

    class Meta:
        icon = "doc-full"
        label = _("Markdown text")
        template = "lms_cms_blocks/blocks/markdown.html"
        help_text = _(
            "Markdown, as in a Jupyter notebook: **bold**, lists, tables, `code`, $math$ and $$display math$$."
        )

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        context["html"] = mark_safe(render_markdown(value))  # noqa: S308 (sanitized by nh3)
        return context

    def get_api_representation(self, value, context=None):
        return {"markdown": value or "", "html": render_markdown(value)}

    def get_searchable_content(self, value):
        return [strip_tags(render_markdown(value))]


class BlockQuoteBlock(blocks.StructBlock):
    """A quotation. API: ``{"quote": str, "attribution": str}``."""

    quote = blocks.TextBlock(label=_("quote"))
    attribution = blocks.CharBlock(label=_("attribution"), required=False, max_length=255)

    class Meta:
        icon = "openquote"
        label = _("Block quote")
        template = "lms_cms_blocks/blocks/block_quote.html"

    def get_api_representation(self, value, context=None):
        return {"quote": value.get("quote") or "", "attribution": value.get("attribution") or ""}


class CalloutBlock(blocks.StructBlock):
    """An admonition box. API: ``{"kind": "note"|"tip"|"important"|"warning"|"danger", "title": str,
    "html": str}``."""

    KINDS = [
        ("note", _("Note")),
        ("tip", _("Tip")),
        ("important", _("Important")),
        ("warning", _("Warning")),
        ("danger", _("Danger")),
    ]

    kind = blocks.ChoiceBlock(label=_("kind"), choices=KINDS, default="note")
    title = blocks.CharBlock(label=_("title"), required=False, max_length=255)
    body = blocks.RichTextBlock(label=_("text"))

    class Meta:
        icon = "warning"
        label = _("Callout")
        template = "lms_cms_blocks/blocks/callout.html"

    @cached_property
    def kind_labels(self):
        return dict(self.KINDS)

    def kind_of(self, value) -> str:
        kind = value.get("kind") or "note"
        return kind if kind in self.kind_labels else "note"

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        kind = self.kind_of(value)
        context["kind"] = kind
        context["title"] = value.get("title") or self.kind_labels[kind]
        return context

    def get_api_representation(self, value, context=None):
        return {
            "kind": self.kind_of(value),
            "title": value.get("title") or "",
            "html": rich_text_html(value.get("body")),
        }
