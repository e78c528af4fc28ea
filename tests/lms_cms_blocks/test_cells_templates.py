"""The Jupyter block's template and the page setup tag: what the learner-side bundle reads from the page."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from lms_cms_blocks.checks import settings_check
from tests.lms_cms_blocks.cells_helpers import make_lesson

pytestmark = pytest.mark.django_db

HOSTILE_SOURCE = "print('</script><script>window.pwned=1</script>')  # & <b>"


@pytest.fixture
def lesson():
    return make_lesson(
        body=[
            (
                "jupyter",
                {
                    "source": HOSTILE_SOURCE,
                    "environment": "python3",
                    "setup_code": "import math",
                    "check_code": "assert True",
                    "outputs": [{"output_type": "stream", "name": "stdout", "text": "</script>"}],
                },
            )
        ]
    )


def scripts(content: str, marker: str) -> list[str]:
    return re.findall(rf'<script type="application/json" {marker}>(.*?)</script>', content, re.S)


def test_page_config_and_cell_data(lesson, django_user_model):
    user = django_user_model.objects.create_user("learner", password="pw")
    client = Client()
    client.force_login(user)
    response = client.get(lesson.url)
    assert response.status_code == 200
    content = response.content.decode()
    (config_json,) = scripts(content, 'id="lms-jupyter-config"')
    config = json.loads(config_json)
    assert config["cellsApiUrl"] == reverse("lms_cms_blocks:cells-list", kwargs={"page_id": lesson.pk})
    assert config["sessionPath"] == f"lessons/{lesson.pk}"
    assert config["kernelBaseUrl"] == "/kernels/"
    assert config["kernelWsUrl"] is None
    assert config["authenticated"] is True
    assert config["pageId"] == lesson.pk
    assert config["csrfToken"]
    assert response.cookies["csrftoken"].value  # the token's cookie is set with the page
    assert config["limits"] == {"sourceMaxBytes": 262144, "outputsMaxBytes": 2097152}
    assert config["i18n"]["run"] == "Run"
    assert 'src="/static/lms_cms_blocks/lms-jupyter.js" defer' in content
    assert 'href="/static/lms_cms_blocks/lms-jupyter.css"' in content

    block_id = lesson.body[0].id
    assert f'data-block-id="{block_id}"' in content
    (cell_json,) = scripts(content, 'class="lms-jupyter-cell-data"')
    # Nothing in the data can end its <script> element early.
    assert "</script" not in cell_json and "<b>" not in cell_json
    cell = json.loads(cell_json)
    assert cell == {
        "source": HOSTILE_SOURCE,
        "environment": "python3",
        "setup_code": "import math",
        "check_code": "assert True",
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "</script>"}],
    }
    # The code is also in the page for readers without JavaScript, escaped.
    assert f'<code class="language-python">{html.escape(HOSTILE_SOURCE)}</code>' in content


def test_anonymous_visitors_and_other_settings(lesson):
    with override_settings(
        LMS_CMS_BLOCKS={
            "KERNEL_SERVICE_URL": "https://kernels.example.org/base/",
            "KERNEL_WEBSOCKET_URL": "wss://kernels.example.org/base/",
            "SESSION_PATH": "course-x/{page_id}",
        }
    ):
        content = Client().get(lesson.url).content.decode()
    (config_json,) = scripts(content, 'id="lms-jupyter-config"')
    config = json.loads(config_json)
    assert config["authenticated"] is False
    assert config["kernelBaseUrl"] == "https://kernels.example.org/base/"
    assert config["kernelWsUrl"] == "wss://kernels.example.org/base/"
    assert config["sessionPath"] == f"course-x/{lesson.pk}"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("CELL_SOURCE_MAX_BYTES", 0, "positive integer"),
        ("CELL_OUTPUTS_MAX_BYTES", "2MB", "positive integer"),
        ("SESSION_PATH", "lessons/", "{page_id}"),
        ("KERNEL_SERVICE_URL", 8888, "URL"),
    ],
)
def test_invalid_settings_are_reported(key, value, expected):
    with override_settings(LMS_CMS_BLOCKS={key: value}):
        (error,) = settings_check()
    assert error.id == "lms_cms_blocks.E004"
    assert key in error.msg and expected in error.msg
