"""The template context the Jupyter block's template reads: ``value``, ``block_id``, ``page``."""

import uuid

import pytest
from django.template import engines
from django.test import override_settings

pytestmark = pytest.mark.django_db

PROBE = "probe block_id={{ block_id }} page={{ page.title }} source={{ value.source }} env={{ value.environment }} hidden={{ show_hidden_code }}"


def probe_templates(settings):
    """The project's templates, with the Jupyter block's template replaced by a probe (whatever it looks like)."""
    template = dict(settings.TEMPLATES[0])
    options = dict(template.get("OPTIONS", {}))
    options["loaders"] = [
        ("django.template.loaders.locmem.Loader", {"lms_cms_blocks/blocks/jupyter.html": PROBE}),
        "django.template.loaders.filesystem.Loader",
        "django.template.loaders.app_directories.Loader",
    ]
    template.update(APP_DIRS=False, OPTIONS=options)
    return [template]


@pytest.mark.parametrize("style", ["variable", "include_block"])
def test_jupyter_template_gets_value_block_id_and_page(settings, make_lesson, style):
    block_id = str(uuid.uuid4())
    lesson = make_lesson(
        title="파이썬 첫걸음",
        body=[
            {
                "type": "jupyter",
                "value": {
                    "source": "print('hi')",
                    "environment": "python3",
                    "setup_code": "",
                    "outputs": [],
                    "check_code": "",
                },
                "id": block_id,
            }
        ],
    )
    with override_settings(TEMPLATES=probe_templates(settings)):
        source = (
            "{{ page.body }}"
            if style == "variable"
            else "{% load wagtailcore_tags %}{% include_block page.body %}"
        )
        html = engines["django"].from_string(source).render({"page": type(lesson).objects.get(pk=lesson.pk)})
    assert (
        f"probe block_id={block_id} page=파이썬 첫걸음 source=print(&#x27;hi&#x27;) env=python3 hidden=False"
        in html
    )
