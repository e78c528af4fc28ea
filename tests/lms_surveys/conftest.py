"""A survey about one learning content, and learners who may answer it, in either shape of install:

* with lms_core (the full project): a real course, content and cohort; ``learner`` and ``other`` are enrolled;
* without it (``tests/projects/surveys_only``): the content is the plain key ``"numpy-basics"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from lms_surveys.testing.factories import attach, make_survey

CORE = apps.is_installed("lms_core")
needs_core = pytest.mark.skipif(not CORE, reason="needs lms_core installed (runs in the full project)")
without_core = pytest.mark.skipif(CORE, reason="the behaviour without lms_core (runs in surveys_only)")


@dataclass
class World:
    survey: object
    target: object
    learner: object
    other: object
    staff: object
    core: dict = field(default_factory=dict)

    def client(self, user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client


def make_learner(username: str):
    return get_user_model().objects.create_user(username=username, password="pw-test-1234")


@pytest.fixture
def world(db) -> World:
    learner, other = make_learner("minjun"), make_learner("seoyeon")
    staff = get_user_model().objects.create_user(
        username="staffer", password="pw", is_staff=True, is_superuser=True
    )
    survey = make_survey("After NumPy basics")
    core = {}
    if CORE:
        from lms_core.testing.factories import make_cohort, make_course, make_enrollment

        course = make_course("AI 기초", contents=2)
        cohort = make_cohort(course)
        content = course.contents.order_by("position").first()
        core = {
            "course": course,
            "cohort": cohort,
            "content": content,
            "enrollments": [make_enrollment(learner, cohort), make_enrollment(other, cohort)],
        }
        target = attach(survey, content)
    else:
        target = attach(survey, key="numpy-basics", course_key="ai-basics", title="NumPy basics")
    return World(survey=survey, target=target, learner=learner, other=other, staff=staff, core=core)


def valid_answers(survey, **overrides) -> dict:
    """A complete, valid set of answers, keyed by question id as the API wants them."""
    q = survey.q
    values = {
        "rating": 4,
        "pace": "right",
        "clarity": "good",
        "topics": ["video", "code-cells"],
        "hours": 2.5,
        "date": "2026-11-20",
        "comment": "More exercises, please.",
        "oneword": "Clear",
    }
    values.update(overrides)
    return {str(q[key].pk): value for key, value in values.items() if value is not None}
