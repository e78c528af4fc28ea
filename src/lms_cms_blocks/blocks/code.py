"""A static, highlighted code listing (not runnable: that is the Jupyter block)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound
from wagtail import blocks

__all__ = ["CodeBlock", "highlight_code"]

LANGUAGES = [
    ("python", "Python"),
    ("pycon", _("Python console")),
    ("bash", "Bash"),
    ("console", _("Shell session")),
    ("text", _("Plain text")),
    ("json", "JSON"),
    ("yaml", "YAML"),
    ("toml", "TOML"),
    ("sql", "SQL"),
    ("html", "HTML"),
    ("css", "CSS"),
    ("javascript", "JavaScript"),
    ("typescript", "TypeScript"),
    ("c", "C"),
    ("cpp", "C++"),
    ("cuda", "CUDA"),
    ("java", "Java"),
    ("r", "R"),
    ("julia", "Julia"),
    ("dockerfile", "Dockerfile"),
    ("diff", "Diff"),
]


def highlight_code(code: str, language: str) -> str:
    """HTML of ``code`` highlighted by Pygments (CSS classes, ``highlight`` wrapper); unknown languages as text."""
    try:
        lexer = get_lexer_by_name(language or "text")
    except ClassNotFound:
        lexer = TextLexer()
    return highlight(code or "", lexer, HtmlFormatter(cssclass="highlight", wrapcode=True))


class CodeBlock(blocks.StructBlock):
    """Highlighted code. API: ``{"language": str, "code": str, "caption": str, "html": str}`` (html: Pygments
    markup with CSS classes)."""

    language = blocks.ChoiceBlock(label=_("language"), choices=LANGUAGES, default="python")
    code = blocks.TextBlock(label=_("code"))
    caption = blocks.CharBlock(label=_("caption"), required=False, max_length=255)

    class Meta:
        icon = "code"
        label = _("Code (static)")
        template = "lms_cms_blocks/blocks/code.html"

    def clean(self, value):
        value = super().clean(value)
        try:
            get_lexer_by_name(value.get("language") or "text")
        except ClassNotFound:
            raise blocks.StructBlockValidationError(
                block_errors={"language": ValidationError(_("Unknown language."))}
            ) from None
        return value

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        context["html"] = mark_safe(highlight_code(value.get("code"), value.get("language")))  # noqa: S308
        return context

    def get_api_representation(self, value, context=None):
        return {
            "language": value.get("language") or "text",
            "code": value.get("code") or "",
            "caption": value.get("caption") or "",
            "html": highlight_code(value.get("code"), value.get("language")),
        }
