"""Markdown to safe HTML for the markdown block: CommonMark + tables + dollar math, sanitized with nh3.

Math is not rendered on the server: ``$...$`` becomes ``<span class="math inline">\\(...\\)</span>`` and
``$$...$$`` becomes ``<div class="math display">\\[...\\]</div>``, ready for KaTeX's or MathJax's auto-render on
the client (and readable as TeX without one). Images written as ``![alt](image:42)`` point at the Wagtail image
with id 42 (that is how notebook attachments are stored after an import).
"""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

__all__ = ["IMAGE_SCHEME", "image_ids", "render_markdown"]

#: ``![alt](image:42)``: a Wagtail image by id.
IMAGE_SCHEME = "image:"
_IMAGE_REF = re.compile(r"\]\(image:(\d+)")

_TAGS = {
    *nh3.ALLOWED_TAGS,
    "img",
    "span",
    "div",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "pre",
    "code",
    "hr",
    "del",
    "s",
    "input",
}
_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "img": {"src", "alt", "title", "width", "height"},
    "span": {"class"},
    "div": {"class"},
    "code": {"class"},
    "th": {"style"},
    "td": {"style"},
    "input": {"type", "checked", "disabled"},
}


def _math_inline(content):
    return f'<span class="math inline">\\({html.escape(content)}\\)</span>'


def _math_block(content):
    return f'<div class="math display">\\[{html.escape(content)}\\]</div>\n'


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    md.use(
        dollarmath_plugin,
        renderer=lambda content, options: (
            _math_inline(content) if not options.get("display_mode") else _math_block(content)
        ),
    )
    return md


_md = _parser()


def _image_url(image_id: int) -> str:
    from wagtail.images import get_image_model

    image = get_image_model().objects.filter(pk=image_id).first()
    if image is None:
        return ""
    try:
        return image.get_rendition("max-1600x1600").url
    except Exception:  # an image that fails to decode still gets its original file
        return image.file.url


def image_ids(source: str) -> list[int]:
    """Ids of the Wagtail images a markdown source refers to with ``image:ID``."""
    return [int(found) for found in _IMAGE_REF.findall(source or "")]


def render_markdown(source: str) -> str:
    """Safe HTML for a markdown source (raw HTML in it is sanitized, never trusted)."""
    rendered = _md.render(source or "")
    if IMAGE_SCHEME in rendered:
        rendered = re.sub(
            r'src="image:(\d+)"',
            lambda match: f'src="{html.escape(_image_url(int(match.group(1))))}"',
            rendered,
        )
    return nh3.clean(
        rendered,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
