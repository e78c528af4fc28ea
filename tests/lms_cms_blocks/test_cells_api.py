"""The cell-state API: a learner's saved code and outputs per Jupyter block, exercise passes, and its limits."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from django.urls import reverse
from wagtail.models import PageViewRestriction

from lms_cms_blocks.models import CellState
from lms_cms_blocks.signals import exercise_passed
from tests.lms_cms_blocks.cells_helpers import CsrfClient, block_ids, make_lesson

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner(django_user_model):
    return django_user_model.objects.create_user("learner", password="pw")


@pytest.fixture
def other(django_user_model):
    return django_user_model.objects.create_user("other", password="pw")


@pytest.fixture
def lesson():
    return make_lesson()


def client_for(user) -> CsrfClient:
    client = CsrfClient()
    client.force_login(user)
    return client


def detail(page, block_id):
    return reverse("lms_cms_blocks:cells-detail", kwargs={"page_id": page.pk, "block_id": block_id})


def listing(page):
    return reverse("lms_cms_blocks:cells-list", kwargs={"page_id": page.pk})


def check_url(page, block_id):
    return reverse("lms_cms_blocks:cells-check", kwargs={"page_id": page.pk, "block_id": block_id})


def patch(client, url, data, **extra):
    return client.patch(url, json.dumps(data), content_type="application/json", **extra)


def test_save_restore_and_reset(learner, lesson):
    client = client_for(learner)
    first, second = block_ids(lesson)
    assert client.get(listing(lesson)).json() == {"page": lesson.pk, "cells": []}

    response = patch(client, detail(lesson, first), {"source": "answer = 41 + 1\nprint(answer)"})
    assert response.status_code == 201, response.content
    assert response.json()["source"] == "answer = 41 + 1\nprint(answer)"
    assert response.json()["outputs"] is None  # not run yet: the precomputed outputs stay
    outputs = [
        {"output_type": "stream", "name": "stdout", "text": "42\n"},
        {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo="}, "metadata": {}},
    ]
    response = patch(client, detail(lesson, first), {"outputs": outputs, "execution_count": 3})
    assert response.status_code == 200
    saved = client.get(listing(lesson)).json()["cells"]
    assert len(saved) == 1
    assert saved[0]["block_id"] == first
    assert saved[0]["source"] == "answer = 41 + 1\nprint(answer)"  # a PATCH of outputs keeps the code
    assert saved[0]["outputs"] == outputs
    assert saved[0]["execution_count"] == 3
    assert saved[0]["passed"] is False
    assert client.get(detail(lesson, first)).json()["outputs"] == outputs
    assert client.get(detail(lesson, second)).status_code == 404  # nothing saved there

    # PUT replaces everything: what it leaves out is forgotten.
    response = client.put(
        detail(lesson, first), json.dumps({"source": "x = 1"}), content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["outputs"] is None

    assert client.delete(detail(lesson, first)).status_code == 204
    assert client.get(detail(lesson, first)).status_code == 404
    assert not CellState.objects.exists()


def test_another_learners_state_is_not_theirs(learner, other, lesson):
    first = block_ids(lesson)[0]
    assert patch(client_for(learner), detail(lesson, first), {"source": "secret = 1"}).status_code == 201
    theirs = client_for(other)
    assert theirs.get(detail(lesson, first)).status_code == 404
    assert theirs.get(listing(lesson)).json()["cells"] == []
    assert theirs.delete(detail(lesson, first)).status_code == 204  # resets only their own (nothing)
    assert patch(theirs, detail(lesson, first), {"source": "mine"}).status_code == 201
    assert CellState.objects.get(user=learner).source == "secret = 1"
    assert CellState.objects.get(user=other).source == "mine"


def test_anonymous_and_missing_csrf_are_refused(learner, lesson):
    first = block_ids(lesson)[0]
    anonymous = CsrfClient()
    assert anonymous.get(listing(lesson)).status_code == 403
    assert patch(anonymous, detail(lesson, first), {"source": "x"}).status_code == 403
    client = client_for(learner)
    response = patch(client, detail(lesson, first), {"source": "x"}, csrf=False)
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert client.delete(detail(lesson, first), csrf=False).status_code == 403
    assert (
        client.post(
            check_url(lesson, first), {"passed": True}, content_type="application/json", csrf=False
        ).status_code
        == 403
    )
    assert not CellState.objects.exists()


def test_unknown_blocks_and_pages_are_404(learner, lesson, django_user_model):
    client = client_for(learner)
    assert (
        patch(client, detail(lesson, "0b5f0c1e-aaaa-bbbb-cccc-123456789abc"), {"source": "x"}).status_code
        == 404
    )
    missing = reverse("lms_cms_blocks:cells-list", kwargs={"page_id": 999999})
    assert client.get(missing).status_code == 404
    draft = make_lesson(title="Draft", slug="draft", live=False)
    assert patch(client, detail(draft, block_ids(draft)[0]), {"source": "x"}).status_code == 404
    private = make_lesson(title="Private", slug="private")
    PageViewRestriction.objects.create(page=private, restriction_type=PageViewRestriction.GROUPS)
    assert client.get(listing(private)).status_code == 404
    assert not CellState.objects.exists()


def test_blocks_nested_in_structs_and_streams_are_found(learner):
    page = make_lesson(
        slug="nested",
        body=[("section", {"cells": [("jupyter", {"source": "print(1)", "environment": "python3"})]})],
    )
    nested_id = page.body[0].value["cells"][0].id
    response = patch(client_for(learner), detail(page, nested_id), {"source": "print(2)"})
    assert response.status_code == 201, response.content


@override_settings(LMS_CMS_BLOCKS={"CELL_SOURCE_MAX_BYTES": 100, "CELL_OUTPUTS_MAX_BYTES": 1000})
def test_size_limits_are_clear_4xx(learner, lesson):
    client = client_for(learner)
    first = block_ids(lesson)[0]
    response = patch(client, detail(lesson, first), {"source": "가" * 40})  # 120 bytes in UTF-8
    assert response.status_code == 400
    assert "at most 100 bytes" in response.json()["source"][0]
    big = [{"output_type": "stream", "name": "stdout", "text": "x" * 2000}]
    response = patch(client, detail(lesson, first), {"outputs": big})
    assert response.status_code == 400
    assert "too large" in response.json()["outputs"][0]
    huge = {"source": "x", "outputs": [{"output_type": "stream", "name": "stdout", "text": "y" * 200_000}]}
    response = patch(client, detail(lesson, first), huge)
    assert response.status_code == 413
    assert "too large to save" in response.json()["detail"]
    assert not CellState.objects.exists()  # nothing half-saved


def test_malformed_input_is_a_400(learner, lesson):
    client = client_for(learner)
    first = block_ids(lesson)[0]
    assert (
        client.patch(detail(lesson, first), "{not json", content_type="application/json").status_code == 400
    )
    assert patch(client, detail(lesson, first), ["a list"]).status_code == 400
    response = patch(client, detail(lesson, first), {"outputs": [{"output_type": "javascript"}]})
    assert response.status_code == 400
    assert "output_type" in response.json()["outputs"][0]
    assert patch(client, detail(lesson, first), {"outputs": "nope"}).status_code == 400
    assert patch(client, detail(lesson, first), {"source": "a\x00b"}).status_code == 400
    assert not CellState.objects.exists()


def test_nul_characters_in_outputs_are_stored(learner, lesson):
    first = block_ids(lesson)[0]
    outputs = [{"output_type": "stream", "name": "stdout", "text": "a\x00b"}]
    response = patch(client_for(learner), detail(lesson, first), {"outputs": outputs})
    assert response.status_code == 201
    assert response.json()["outputs"][0]["text"] == "a\ufffdb"


def test_exercise_passed_is_sent_once(learner, lesson, django_capture_on_commit_callbacks):
    client = client_for(learner)
    first, second = block_ids(lesson)
    received = []

    def receiver(sender, user, page, block_id, **kwargs):
        received.append((sender, user, page.pk, block_id))

    exercise_passed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                check_url(lesson, first), {"passed": False}, content_type="application/json"
            )
        assert response.status_code == 200
        assert response.json() == {"block_id": first, "passed": False, "passed_at": None, "first_pass": False}
        assert received == []
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                check_url(lesson, first), {"passed": True}, content_type="application/json"
            )
        assert response.json()["first_pass"] is True
        assert received == [(CellState, learner, lesson.pk, first)]
        with django_capture_on_commit_callbacks(execute=True):
            again = client.post(check_url(lesson, first), {"passed": True}, content_type="application/json")
            failed = client.post(check_url(lesson, first), {"passed": False}, content_type="application/json")
        assert again.json()["first_pass"] is False
        assert failed.json()["passed_at"] is not None  # a later failure does not take the pass back
        assert len(received) == 1
    finally:
        exercise_passed.disconnect(receiver)

    # Resetting the block keeps the pass.
    patch(client, detail(lesson, first), {"source": "changed"})
    assert client.delete(detail(lesson, first)).status_code == 204
    state = CellState.objects.get(user=learner, block_id=first)
    assert state.passed and state.source is None

    # A block without a check cannot be passed.
    response = client.post(check_url(lesson, second), {"passed": True}, content_type="application/json")
    assert response.status_code == 400
    assert "no exercise check" in response.json()["detail"]
    assert client.post(check_url(lesson, first), {}, content_type="application/json").status_code == 400
