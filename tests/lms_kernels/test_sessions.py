"""Sessions with real kernels: one kernel per learner and path, reused on reload."""

import psutil
import pytest

from lms_kernels.models import Kernel

from .conftest import PREFIX, kernel_socket, logged_in_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def create(client, path="courses/intro/lesson-1", **extra):
    body = {"path": path, "type": "notebook", "name": "", "kernel": {"name": "python3"}, **extra}
    response = await client.post(f"{PREFIX}/sessions", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


async def test_session_lifecycle(kernels, user):
    client = await logged_in_client(user)
    session = await create(client)
    assert set(session) == {"id", "path", "name", "type", "kernel", "notebook"}
    assert session["notebook"] == {"path": "courses/intro/lesson-1", "name": ""}
    assert session["kernel"]["name"] == "python3"
    assert (await client.get(f"{PREFIX}/sessions/{session['id']}")).json() == session
    assert (await client.get(f"{PREFIX}/sessions")).json() == [session]

    # A reload asks again: the same session and kernel, with its variables.
    async with kernel_socket(client, session["kernel"]["id"]) as ws:
        await ws.execute("progress = 3")
    again = await create(client)
    assert again["id"] == session["id"] and again["kernel"]["id"] == session["kernel"]["id"]
    assert await Kernel.objects.acount() == 1

    # Rename the path.
    response = await client.patch(
        f"{PREFIX}/sessions/{session['id']}",
        {"path": "courses/intro/lesson-1b"},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["path"] == "courses/intro/lesson-1b"

    # Delete: the kernel goes with it.
    kernel = await Kernel.objects.aget(pk=session["kernel"]["id"])
    pid = kernel.backend_state["pid"]
    assert (await client.delete(f"{PREFIX}/sessions/{session['id']}")).status_code == 204
    assert (await client.get(f"{PREFIX}/sessions/{session['id']}")).status_code == 404
    assert (await client.get(f"{PREFIX}/kernels/{kernel.id}")).status_code == 404
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def test_patch_kernel_name_replaces_the_kernel(kernels, user):
    client = await logged_in_client(user)
    session = await create(client)
    response = await client.patch(
        f"{PREFIX}/sessions/{session['id']}", {"kernel": {"name": "python3"}}, content_type="application/json"
    )
    assert response.status_code == 200
    new_kernel = response.json()["kernel"]["id"]
    assert new_kernel != session["kernel"]["id"]
    assert [str(k.id) async for k in Kernel.objects.all()] == [new_kernel]


async def test_patch_to_a_path_in_use_is_a_conflict(kernels, user):
    client = await logged_in_client(user)
    first = await create(client, path="a")
    await create(client, path="b")
    response = await client.patch(
        f"{PREFIX}/sessions/{first['id']}", {"path": "b"}, content_type="application/json"
    )
    assert response.status_code == 409 and response.json()["reason"] == "session_conflict"


async def test_two_learners_on_one_path_get_their_own_kernels(kernels, user, other_user):
    mine = await create(await logged_in_client(user))
    theirs = await create(await logged_in_client(other_user))
    assert mine["id"] != theirs["id"] and mine["kernel"]["id"] != theirs["kernel"]["id"]


async def test_session_can_use_an_existing_kernel(kernels, user):
    client = await logged_in_client(user)
    kernel = (await client.post(f"{PREFIX}/kernels", {}, content_type="application/json")).json()
    session = await create(client, path="console-1", type="console", kernel={"id": kernel["id"]})
    assert session["kernel"]["id"] == kernel["id"] and "notebook" not in session
