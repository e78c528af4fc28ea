"""Hostile input to lms_core's REST API: ids past 64 bits in filters, and JSON no parser should follow."""

import pytest
from rest_framework.test import APIClient

from lms_core.testing.factories import make_cohort, make_course, make_enrollment, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner_client():
    enrollment = make_enrollment(
        make_user("hostile-learner"), make_cohort(make_course("Hostile", contents=2))
    )
    client = APIClient()
    client.force_login(enrollment.user)
    client.enrollment = enrollment
    return client


@pytest.mark.parametrize("url", ["/core/api/me/enrollments/", "/core/api/cohorts/"])
def test_an_id_filter_past_64_bits_is_a_400_naming_it(learner_client, url):
    response = learner_client.get(url, {"course": str(2**64)})
    assert response.status_code == 400, response.content
    assert "course" in response.json()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[" * 50_000, "nests too deeply"),
        ('{"days": 1e309}', "out of range"),
        ('{"days": "\\udfff"}', "U+DFFF"),
    ],
)
def test_hostile_json_is_a_400_with_a_message(learner_client, body, message):
    url = f"/core/api/me/enrollments/{learner_client.enrollment.pk}/shift/"
    response = learner_client.post(url, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]
