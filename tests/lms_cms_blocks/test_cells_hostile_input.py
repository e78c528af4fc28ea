"""Hostile bodies to the cell-state API: each is a 400 that says what is wrong and where, and nothing is saved."""

from __future__ import annotations

import pytest
from django.urls import reverse

from lms_cms_blocks.models import CellState
from tests.lms_cms_blocks.cells_helpers import CsrfClient, block_ids, make_lesson

pytestmark = pytest.mark.django_db

STREAM = '{"outputs": [{"output_type": "stream", "name": "stdout", "text": %s}]}'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[" * 50_000, "nests too deeply"),
        ('{"outputs": ' + "[" * 65 + "]" * 65 + "}", "at most 64 levels"),
        (STREAM % '"\\udfff"', "lone surrogate (U+DFFF, not a Unicode character) at outputs[0].text"),
        ('{"source": "ok", "outputs": [{"output_type": "error", "\\ud800": 1}]}', "U+D800"),
        ('{"execution_count": 1e309}', "1e309 is out of range"),
        ('{"outputs": [{"output_type": "execute_result", "data": {"x": NaN}}]}', "NaN"),
        ('{"source": ', "JSON parse error"),
    ],
)
def test_hostile_json_is_a_400_with_a_message(django_user_model, body, message):
    learner = django_user_model.objects.create_user("learner", password="pw")
    client = CsrfClient()
    client.force_login(learner)
    lesson = make_lesson()
    url = reverse(
        "lms_cms_blocks:cells-detail", kwargs={"page_id": lesson.pk, "block_id": block_ids(lesson)[0]}
    )
    response = client.patch(url, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]
    assert not CellState.objects.exists()


def test_a_block_id_with_a_nul_is_a_404(django_user_model):
    """PostgreSQL refuses NUL in a query: the URL matches nothing instead (a 500 there before)."""
    learner = django_user_model.objects.create_user("learner", password="pw")
    client = CsrfClient()
    client.force_login(learner)
    lesson = make_lesson()
    for method in ("get", "delete"):
        assert getattr(client, method)(f"/blocks/api/cells/{lesson.pk}/a%00b").status_code == 404
