"""The abstract lesson page that projects subclass.

::

    from lms_cms_blocks.pages import AbstractLessonPage

    class LessonPage(AbstractLessonPage):
        template = "myproject/lesson_page.html"

A project that adds blocks composes its own stream and overrides ``body``::

    class MyStream(BaseStreamBlock):
        quiz = QuizBlock()

    class LessonPage(AbstractLessonPage):
        body = StreamField(MyStream(), blank=True, verbose_name=_("body"))
"""

from __future__ import annotations

import contextlib
import datetime

from django.db import models
from django.db.models.signals import class_prepared
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.api import APIField
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from .blocks import BaseStreamBlock

__all__ = ["AbstractLessonPage"]


def _today() -> datetime.date:
    return timezone.localdate()


class AbstractLessonPage(Page):
    """A lesson: a date, a short introduction and a body of lesson blocks.

    Rendering ``{{ page.body }}`` or ``{% include_block page.body %}`` gives every block ``block_id`` and
    ``page`` (see :class:`~lms_cms_blocks.blocks.BaseStreamBlock`). The API lists ``date``, ``intro`` and
    ``body``.
    """

    date = models.DateField(_("date"), default=_today)
    intro = models.TextField(
        _("introduction"), blank=True, help_text=_("One or two sentences shown in listings.")
    )
    body = StreamField(BaseStreamBlock(), blank=True, verbose_name=_("body"))

    content_panels = [*Page.content_panels, FieldPanel("date"), FieldPanel("intro"), FieldPanel("body")]
    search_fields = [*Page.search_fields, index.SearchField("intro"), index.SearchField("body")]
    api_fields = [APIField("date"), APIField("intro"), APIField("body")]

    class Meta:
        abstract = True
        verbose_name = _("lesson")
        verbose_name_plural = _("lessons")


class _PageAwareStream:
    """Wraps a StreamField's descriptor so that the value it returns knows its page (``value.lms_page``): then
    ``{{ page.body }}``, which renders without a template context, still gives blocks their ``page``."""

    def __init__(self, descriptor):
        self.descriptor = descriptor

    def __get__(self, obj, owner=None):
        value = self.descriptor.__get__(obj, owner)
        if obj is not None and value is not None:
            with contextlib.suppress(AttributeError):  # not a StreamValue
                value.lms_page = obj
        return value

    def __set__(self, obj, value):
        self.descriptor.__set__(obj, value)


def _wrap_stream_fields(sender, **kwargs):
    if not issubclass(sender, AbstractLessonPage) or sender._meta.abstract:
        return
    for field in sender._meta.concrete_fields:
        if isinstance(field, StreamField):
            descriptor = sender.__dict__.get(field.attname)
            if descriptor is not None and not isinstance(descriptor, _PageAwareStream):
                setattr(sender, field.attname, _PageAwareStream(descriptor))


class_prepared.connect(_wrap_stream_fields)
