"""Survey URLs and bodies a learner can make up: ids past 64 bits are a 404 like any id that names nothing
(SQLite cannot even bind them), hostile JSON a 400 with a message."""

from __future__ import annotations

import pytest

BIG = "99999999999999999999"  # past 2**64


@pytest.mark.parametrize(
    "url",
    [
        f"/surveys/{BIG}/",
        f"/surveys/api/surveys/{BIG}/",
        f"/surveys/api/surveys/{BIG}/responses/",
        f"/surveys/api/me/responses/{BIG}/",
        f"/surveys/api/reports/surveys/{BIG}/",
        f"/surveys/api/surveys/{2**63}/",  # one past a BigAutoField's range
    ],
)
def test_ids_past_64_bits_are_a_404(world, url):
    client = world.client(world.learner)
    assert client.get(url).status_code == 404
    assert client.post(url, {"answers": {}}, format="json").status_code in (404, 405)


def test_the_largest_id_is_still_looked_up(world):
    client = world.client(world.learner)
    response = client.get(f"/surveys/api/surveys/{2**63 - 1}/")
    assert response.status_code == 404
    assert response.json()["detail"] == "No survey here."  # the view's own 404: the id reached it


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"answers": ' + "[" * 50_000, "nests too deeply"),
        ('{"answers": {"1": "\\udfff"}}', "lone surrogate (U+DFFF, not a Unicode character) at answers.1"),
        ('{"answers": {"1": 1e309}}', "out of range"),
    ],
)
def test_hostile_answers_are_a_400(world, body, message):
    client = world.client(world.learner)
    response = client.post(
        f"/surveys/api/surveys/{world.survey.pk}/responses/", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]


@pytest.mark.parametrize("prefix", ["contents", "courses"])
def test_a_key_with_a_nul_is_a_404(world, prefix):
    """PostgreSQL refuses NUL in a query: the URL matches nothing instead (a 500 there before)."""
    assert world.client(world.learner).get(f"/surveys/api/{prefix}/a%00b/survey/").status_code == 404
