"""Hostile input to the kernel service's REST API: a clear 400, and nothing started or saved.

A session's fields are checked before a kernel is started for it: on PostgreSQL a NUL character would only fail
at the session's insert, after the kernel was up, leaving a kernel nobody can see that counts against the
learner's cap. Real local kernels; the suite runs these on SQLite and, with ``LMS_TEST_DATABASE_URL``, on
PostgreSQL.
"""

import json

import pytest

from lms_kernels.models import Kernel, KernelSession

from .conftest import PREFIX, logged_in_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

SESSION = {"path": "courses/intro/lesson-1", "type": "notebook", "name": "", "kernel": {"name": "python3"}}


async def post_json(client, url, body: str):
    return await client.post(url, body, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SESSION, "name": "lesson\x00one"}, "'name'"),
        ({**SESSION, "path": "courses/\x00"}, "'path'"),
        ({**SESSION, "type": "note\x00book"}, "'type'"),
        ({**SESSION, "kernel": {"name": "python3\x00"}}, "'kernel.name'"),
        ({**SESSION, "kernel": {"id": ["not", "an", "id"]}}, "'kernel.id'"),
    ],
)
async def test_refused_session_starts_no_kernel(kernels, user, body, field):
    client = await logged_in_client(user)
    response = await post_json(client, f"{PREFIX}/sessions", json.dumps(body))
    assert response.status_code == 400, response.content
    assert field in response.json()["message"]
    assert await Kernel.objects.filter(owner=user).acount() == 0
    assert await KernelSession.objects.acount() == 0
    assert (await client.get(f"{PREFIX}/kernels")).json() == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"path": "\\udfff", "type": "notebook"}', "lone surrogate (U+DFFF"),
        ('{"path": "a", "type": "notebook", "kernel": {"name": "\\ud800"}}', "kernel.name"),
        ("[" * 50_000, "nests too deeply"),
        ('{"path": "a", "type": "notebook", "x": 1e309}', "out of range"),
        ('{"path": "a", "type": "notebook", "x": NaN}', "NaN"),
    ],
)
async def test_hostile_json_is_a_400_before_any_kernel(kernels, user, raw, message):
    client = await logged_in_client(user)
    response = await post_json(client, f"{PREFIX}/sessions", raw)
    assert response.status_code == 400, response.content
    assert message in response.json()["message"]
    assert await Kernel.objects.acount() == 0


async def test_patch_with_a_nul_changes_nothing_and_starts_nothing(kernels, user):
    client = await logged_in_client(user)
    created = await post_json(client, f"{PREFIX}/sessions", json.dumps(SESSION))
    assert created.status_code == 201, created.content
    session = created.json()
    response = await client.patch(
        f"{PREFIX}/sessions/{session['id']}",
        json.dumps({"name": "x\x00", "kernel": {"name": "python3"}}),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert "'name'" in response.json()["message"]
    assert await Kernel.objects.acount() == 1  # no replacement kernel was started
    assert (await client.get(f"{PREFIX}/sessions/{session['id']}")).json() == session


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"since": "0001-01-01T00:00:00+14:00"}, "'since'"),
        ({"until": "9999-12-31T23:59:59-12:00"}, "'until'"),
        ({"since": "0001-01-01"}, None),  # midnight of year 1 in UTC: the earliest there is, accepted
        ({"group": "ml\x00"}, "'group'"),
        ({"user": "\x00"}, "'user'"),
        ({"limit": str(2**64)}, "'limit'"),
    ],
)
async def test_gpu_usage_out_of_range_and_nul(db, settings, user, params, name):
    settings.TIME_ZONE = "UTC"
    client = await logged_in_client(user)
    response = await client.get(f"{PREFIX}/gpu-usage", params)
    if name is None:
        assert response.status_code == 200, response.content
        return
    assert response.status_code == 400, response.content
    assert name in response.json()["message"]
