"""Media blocks: image, embed, document."""

from __future__ import annotations

import logging

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.documents.blocks import DocumentChooserBlock
from wagtail.embeds.blocks import EmbedBlock as WagtailEmbedBlock
from wagtail.embeds.embeds import get_embed
from wagtail.embeds.exceptions import EmbedException
from wagtail.images.blocks import ImageChooserBlock

__all__ = ["DocumentBlock", "EmbedBlock", "ImageBlock", "image_rendition"]

logger = logging.getLogger(__name__)

#: The rendition the image block shows and the API lists first.
IMAGE_FILTER = "max-1200x1200"


def image_rendition(image, filter_spec=IMAGE_FILTER):
    """A rendition of ``image``, or ``None`` when the file is missing or fails to decode (logged)."""
    if image is None:
        return None
    try:
        return image.get_rendition(filter_spec)
    except Exception:  # Pillow/Willow errors, a missing file: the page must still render
        logger.warning("Image %s (%s) could not be rendered", image.pk, image.file.name, exc_info=True)
        return None


class ImageBlock(blocks.StructBlock):
    """An image with alt text and caption.

    API: ``{"id": int, "title": str, "alt": str, "caption": str, "url": str|null, "width": int|null,
    "height": int|null, "original": {"url": str, "width": int, "height": int}}``, or ``null`` fields when the
    image was deleted (``"id": null``).
    """

    image = ImageChooserBlock(label=_("image"))
    alt = blocks.CharBlock(
        label=_("alternative text"),
        required=False,
        max_length=255,
        help_text=_("What the image shows, for people who cannot see it. Blank: the image's title."),
    )
    caption = blocks.CharBlock(label=_("caption"), required=False, max_length=255)

    class Meta:
        icon = "image"
        label = _("Image")
        template = "lms_cms_blocks/blocks/image.html"

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        image = value.get("image")
        context["rendition"] = image_rendition(image)
        context["alt"] = value.get("alt") or (image.title if image else "")
        return context

    def get_api_representation(self, value, context=None):
        image = value.get("image")
        if image is None:
            return {
                "id": None,
                "title": "",
                "alt": value.get("alt") or "",
                "caption": value.get("caption") or "",
                "url": None,
                "width": None,
                "height": None,
                "original": None,
            }
        rendition = image_rendition(image)
        return {
            "id": image.pk,
            "title": image.title,
            "alt": value.get("alt") or image.title,
            "caption": value.get("caption") or "",
            "url": rendition.url if rendition else None,
            "width": rendition.width if rendition else None,
            "height": rendition.height if rendition else None,
            "original": {"url": image.file.url, "width": image.width, "height": image.height},
        }


class EmbedBlock(blocks.StructBlock):
    """A video, slide deck or other oEmbed content by URL.

    API: ``{"url": str, "caption": str, "html": str|null, "title": str, "provider": str, "type": str,
    "width": int|null, "height": int|null}`` (``html`` is ``null`` when the provider cannot embed it; show a
    link then).
    """

    embed = WagtailEmbedBlock(label=_("URL"), help_text=_("A YouTube, Vimeo, SlideShare... address."))
    caption = blocks.CharBlock(label=_("caption"), required=False, max_length=255)

    class Meta:
        icon = "media"
        label = _("Embed")
        template = "lms_cms_blocks/blocks/embed.html"

    @staticmethod
    def fetch(value):
        embed_value = value.get("embed")
        url = getattr(embed_value, "url", embed_value) or ""
        if not url:
            return "", None
        try:
            return url, get_embed(url)
        except EmbedException:
            return url, None
        except Exception:  # a provider that answers nonsense must not break the page
            logger.warning("Embedding %s failed", url, exc_info=True)
            return url, None

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        context["url"], context["embed"] = self.fetch(value)
        return context

    def get_api_representation(self, value, context=None):
        url, embed = self.fetch(value)
        return {
            "url": url,
            "caption": value.get("caption") or "",
            "html": embed.html if embed else None,
            "title": embed.title if embed else "",
            "provider": embed.provider_name if embed else "",
            "type": embed.type if embed else "",
            "width": embed.width if embed else None,
            "height": embed.height if embed else None,
        }


class DocumentBlock(blocks.StructBlock):
    """A downloadable document (slides, a dataset, a notebook).

    API: ``{"id": int|null, "title": str, "url": str|null, "filename": str, "extension": str,
    "size": int|null}`` (``size`` in bytes; ``null`` when the file is missing).
    """

    document = DocumentChooserBlock(label=_("document"))
    title = blocks.CharBlock(
        label=_("link text"), required=False, max_length=255, help_text=_("Blank: the document's title.")
    )

    class Meta:
        icon = "doc-full-inverse"
        label = _("Document")
        template = "lms_cms_blocks/blocks/document.html"

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        document = value.get("document")
        context["title"] = value.get("title") or (document.title if document else "")
        return context

    def get_api_representation(self, value, context=None):
        document = value.get("document")
        if document is None:
            return {
                "id": None,
                "title": value.get("title") or "",
                "url": None,
                "filename": "",
                "extension": "",
                "size": None,
            }
        try:
            size = document.get_file_size()
        except Exception:  # a missing file
            size = None
        return {
            "id": document.pk,
            "title": value.get("title") or document.title,
            "url": document.url,
            "filename": document.filename,
            "extension": document.file_extension,
            "size": size,
        }
