from django import forms
from wagtail import blocks
from wagtail.fields import StreamField
from wagtail.models import Page


class OutputsBlock(blocks.FieldBlock):
    """A list of nbformat v4 output dicts, stored as JSON."""

    def __init__(self, required=False, **kwargs):
        self.field = forms.JSONField(required=required)
        super().__init__(**kwargs)


class TestJupyterBlock(blocks.StructBlock):
    source = blocks.TextBlock()
    environment = blocks.CharBlock(default="python3")
    setup_code = blocks.TextBlock(required=False)
    outputs = OutputsBlock(required=False)
    check_code = blocks.TextBlock(required=False)

    class Meta:
        template = "lms_cms_blocks/blocks/jupyter.html"


class CellsLessonPage(Page):
    body = StreamField(
        [
            ("jupyter", TestJupyterBlock()),
            (
                "section",
                blocks.StructBlock([("cells", blocks.StreamBlock([("jupyter", TestJupyterBlock())]))]),
            ),
        ],
        blank=True,
    )
    template = "cells_site/cells_lesson_page.html"
