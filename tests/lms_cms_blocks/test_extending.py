"""The documented extension points (docs/apps/lms_cms_blocks/extending.md), as a project would use them:
a custom block added to the stream without forking, and a block whose template and API shape are overridden."""

from __future__ import annotations

import uuid

import pytest
from django.template import engines
from wagtail import blocks
from wagtail.blocks import StreamValue

from lms_cms_blocks.blocks import BaseStreamBlock, CalloutBlock

pytestmark = pytest.mark.django_db


# -- what a project writes ------------------------------------------------------------------------------------


class QuizBlock(blocks.StructBlock):
    """A multiple-choice question: a project's own block."""

    question = blocks.CharBlock()
    choices = blocks.ListBlock(blocks.CharBlock())
    answer = blocks.IntegerBlock(help_text="index of the right choice")

    class Meta:
        icon = "help"
        template = "myproject/blocks/quiz.html"

    def get_api_representation(self, value, context=None):
        # the answer stays on the server: the front end posts a choice and is told whether it was right
        return {"question": value["question"], "choices": list(value["choices"])}


class TipBlock(CalloutBlock):
    """Our callout with the project's own markup and a smaller API shape."""

    class Meta:
        template = "myproject/blocks/tip.html"

    def get_api_representation(self, value, context=None):
        return {"text": super().get_api_representation(value, context)["html"]}


class ProjectStreamBlock(BaseStreamBlock):
    quiz = QuizBlock()
    callout = TipBlock()  # same name: replaces ours in this stream


TEMPLATES = {
    "myproject/blocks/quiz.html": '<fieldset data-id="{{ block_id }}" data-page="{{ page.title }}"><legend>{{ value.question }}</legend>{% for c in value.choices %}<label>{{ c }}</label>{% endfor %}</fieldset>',
    "myproject/blocks/tip.html": '{% load wagtailcore_tags %}<div class="tip">{{ value.body|richtext }}</div>',
}


@pytest.fixture
def project_templates(settings):
    template = dict(settings.TEMPLATES[0])
    options = dict(template.get("OPTIONS", {}))
    options["loaders"] = [
        ("django.template.loaders.locmem.Loader", TEMPLATES),
        "django.template.loaders.filesystem.Loader",
        "django.template.loaders.app_directories.Loader",
    ]
    template.update(APP_DIRS=False, OPTIONS=options)
    settings.TEMPLATES = [template]


RAW = [
    {"type": "heading", "value": {"text": "퀴즈", "level": "2"}, "id": str(uuid.uuid4())},
    {"type": "quiz", "value": {"question": "2 + 2?", "choices": ["3", "4"], "answer": 1}, "id": "q-1"},
    {"type": "callout", "value": {"kind": "tip", "title": "", "body": "<p>Think.</p>"}, "id": "c-1"},
]


def test_custom_block_in_the_stream(project_templates, site_root):
    stream = ProjectStreamBlock()
    value = StreamValue(stream, RAW, is_lazy=True)
    html = (
        engines["django"]
        .from_string("{% load wagtailcore_tags %}{% include_block body %}")
        .render({"body": value, "page": site_root})
    )
    assert f'<fieldset data-id="q-1" data-page="{site_root.title}"><legend>2 + 2?</legend>' in html
    assert '<div class="tip"><p>Think.</p></div>' in html  # our callout, the project's template
    assert "<h2" in html  # our other blocks are untouched
    api = stream.get_api_representation(value, {})
    assert api[1] == {"type": "quiz", "value": {"question": "2 + 2?", "choices": ["3", "4"]}, "id": "q-1"}
    assert api[2] == {"type": "callout", "value": {"text": "<p>Think.</p>"}, "id": "c-1"}
    assert set(ProjectStreamBlock.base_blocks) - set(BaseStreamBlock.base_blocks) == {"quiz"}


def test_overriding_a_template_by_path(settings, make_lesson, client, tmp_path):
    """A project template directory ahead of the app's wins: ``lms_cms_blocks/blocks/heading.html``."""
    override = tmp_path / "templates" / "lms_cms_blocks" / "blocks"
    override.mkdir(parents=True)
    (override / "heading.html").write_text(
        '<h2 class="project-heading">{{ value.text }} #{{ block_id|slice:":4" }}</h2>'
    )
    template = dict(settings.TEMPLATES[0])
    template["DIRS"] = [str(tmp_path / "templates"), *template.get("DIRS", [])]
    settings.TEMPLATES = [template]
    page = make_lesson(
        title="덮어쓰기",
        body=[{"type": "heading", "value": {"text": "제목", "level": "2"}, "id": "abcd-1234"}],
    )
    html = client.get(page.url).content.decode()
    assert '<h2 class="project-heading">제목 #abcd</h2>' in html
