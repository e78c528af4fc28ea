"""The REST API's shapes, authentication, CSRF, ownership, limits and errors (mostly without kernels)."""

import pytest
from django.test import AsyncClient, override_settings

from lms_kernels.models import Kernel, KernelEnvironment, KernelStatus

from .conftest import PREFIX, logged_in_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def a_kernel_row(owner, environment, **fields) -> Kernel:
    """A kernel row without a process: enough for ownership, listing and quota."""
    fields = {"status": KernelStatus.RUNNING, **fields}
    return await Kernel.objects.acreate(
        owner=owner, environment=environment, name=environment.slug, backend="local", **fields
    )


# -- kernelspecs ---------------------------------------------------------------------------------------------


async def test_kernelspecs_in_jupyters_shape(user, python3):
    await KernelEnvironment.objects.acreate(
        slug="gpu-torch", display_name="PyTorch (GPU)", gpus=1, description="Deep learning", position=1
    )
    await KernelEnvironment.objects.acreate(slug="retired", display_name="Old", is_active=False)
    client = await logged_in_client(user)
    response = await client.get(f"{PREFIX}/kernelspecs")
    assert response.status_code == 200
    data = response.json()
    assert data["default"] == "python3"
    assert list(data["kernelspecs"]) == ["python3", "gpu-torch"]
    spec = data["kernelspecs"]["gpu-torch"]
    assert spec["name"] == "gpu-torch" and spec["resources"] == {}
    assert spec["spec"]["display_name"] == "PyTorch (GPU)" and spec["spec"]["language"] == "python"
    assert spec["spec"]["argv"] == [] and spec["spec"]["env"] == {}
    assert spec["spec"]["metadata"]["lms_kernels"]["gpus"] == 1
    detail = await client.get(f"{PREFIX}/kernelspecs/gpu-torch")
    assert detail.json() == spec
    missing = await client.get(f"{PREFIX}/kernelspecs/retired")
    assert missing.status_code == 404 and missing.json()["reason"] == "no_such_kernelspec"


async def test_default_environment_setting(user, python3, kernel_settings):
    await KernelEnvironment.objects.acreate(slug="r", display_name="R", language="R", position=5)
    client = await logged_in_client(user)
    with override_settings(LMS_KERNELS={**kernel_settings, "DEFAULT_ENVIRONMENT": "r"}):
        assert (await client.get(f"{PREFIX}/kernelspecs")).json()["default"] == "r"
    with override_settings(LMS_KERNELS={**kernel_settings, "DEFAULT_ENVIRONMENT": "nope"}):
        assert (await client.get(f"{PREFIX}/kernelspecs")).json()["default"] == "python3"


class OnlyStaffAdapter:
    def get_environment_queryset(self, user):
        return KernelEnvironment.objects.active()

    def can_use_environment(self, user, environment):
        return user.is_staff

    def get_kernel_queryset(self, user):
        return Kernel.objects.all() if user.is_staff else Kernel.objects.filter(owner=user)

    def get_session_queryset(self, user):
        from lms_kernels.models import KernelSession

        return KernelSession.objects.filter(owner=user)

    def get_max_kernels(self, user):
        return None


async def test_adapter_decides_environments_and_visibility(user, other_user, python3, kernel_settings):
    other_kernel = await a_kernel_row(other_user, python3)
    other_user.is_staff = True
    await other_user.asave()
    config = {**kernel_settings, "ADAPTER": "tests.lms_kernels.test_rest.OnlyStaffAdapter"}
    with override_settings(LMS_KERNELS=config):
        learner = await logged_in_client(user)
        assert (await learner.get(f"{PREFIX}/kernelspecs")).json() == {"default": None, "kernelspecs": {}}
        refused = await learner.post(
            f"{PREFIX}/kernels", {"name": "python3"}, content_type="application/json"
        )
        assert refused.status_code == 404
        staff = await logged_in_client(other_user)
        assert list((await staff.get(f"{PREFIX}/kernelspecs")).json()["kernelspecs"]) == ["python3"]
        mine = await a_kernel_row(user, python3)
        listed = {k["id"] for k in (await staff.get(f"{PREFIX}/kernels")).json()}
        assert listed == {str(other_kernel.id), str(mine.id)}


# -- kernels -------------------------------------------------------------------------------------------------


async def test_kernel_model_has_exactly_jupyters_fields_and_no_secrets(user, python3):
    kernel = await a_kernel_row(
        user, python3, connection_info={"key": "SECRET-KEY", "shell_port": 1}, backend_state={"pid": 4242}
    )
    client = await logged_in_client(user)
    response = await client.get(f"{PREFIX}/kernels/{kernel.id}")
    model = response.json()
    assert set(model) == {"id", "name", "last_activity", "execution_state", "connections"}
    assert model["id"] == str(kernel.id) and model["name"] == "python3"
    assert model["last_activity"].endswith("Z")
    assert b"SECRET-KEY" not in response.content and b"4242" not in response.content
    listing = await client.get(f"{PREFIX}/kernels")
    assert listing.json() == [model] and b"SECRET-KEY" not in listing.content


async def test_anonymous_is_refused_with_json(python3):
    client = AsyncClient()
    for method, path in [
        ("get", "/kernels"),
        ("post", "/kernels"),
        ("get", "/kernelspecs"),
        ("get", "/sessions"),
    ]:
        response = await getattr(client, method)(f"{PREFIX}{path}")
        assert response.status_code == 403
        assert response.json() == {
            "message": "Log in, or send an API token, to use the kernel service.",
            "reason": "not_authenticated",
        }


async def test_bad_token_is_refused(python3):
    response = await AsyncClient().get(f"{PREFIX}/kernels", headers={"Authorization": "token nope"})
    assert response.status_code == 403 and "token" in response.json()["message"]


async def test_session_auth_needs_csrf_on_unsafe_methods(user, python3):
    client = AsyncClient(enforce_csrf_checks=True)
    await client.aforce_login(user)
    assert (await client.get(f"{PREFIX}/kernels")).status_code == 200
    refused = await client.post(f"{PREFIX}/kernels", {}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["reason"] == "csrf_failed"
    kernel = await a_kernel_row(user, python3)
    assert (await client.delete(f"{PREFIX}/kernels/{kernel.id}")).status_code == 403
    assert await Kernel.objects.filter(pk=kernel.pk).aexists()


async def test_quota_is_a_clear_403(user, python3, kernel_settings):
    with override_settings(LMS_KERNELS={**kernel_settings, "MAX_KERNELS_PER_USER": 2}):
        await a_kernel_row(user, python3)
        await a_kernel_row(user, python3)
        await a_kernel_row(user, python3, status=KernelStatus.DEAD)  # dead kernels do not count
        client = await logged_in_client(user)
        response = await client.post(
            f"{PREFIX}/kernels", {"name": "python3"}, content_type="application/json"
        )
    assert response.status_code == 403
    assert response.json()["reason"] == "kernel_quota_exceeded" and "at most 2" in response.json()["message"]
    assert await Kernel.objects.filter(owner=user).acount() == 3


@pytest.mark.parametrize(
    "body, status, reason",
    [
        (b"{nope", 400, "bad_request"),
        (b"[1]", 400, "bad_request"),
        (b'{"name": 3}', 400, "bad_request"),
        (b'{"name": "nope"}', 404, "no_such_kernelspec"),
    ],
)
async def test_bad_start_requests(user, python3, body, status, reason):
    client = await logged_in_client(user)
    response = await client.post(f"{PREFIX}/kernels", body, content_type="application/json")
    assert response.status_code == status and response.json()["reason"] == reason
    assert response.json()["message"]


async def test_unknown_ids_paths_and_methods_are_json(user, python3):
    client = await logged_in_client(user)
    for path in [
        "/kernels/not-a-uuid",
        "/kernels/00000000-0000-0000-0000-000000000000",
        "/sessions/x",
        "/nothing",
    ]:
        response = await client.get(f"{PREFIX}{path}")
        assert response.status_code == 404 and response["Content-Type"] == "application/json", path
        assert "message" in response.json()
    response = await client.put(f"{PREFIX}/kernels")
    assert response.status_code == 405 and response["Allow"] == "GET, POST" and response.json()["message"]


async def test_environment_on_an_unknown_backend_is_a_503_not_a_crash(user):
    await KernelEnvironment.objects.acreate(slug="gpu", display_name="GPU", backend="gpu")
    client = await logged_in_client(user)
    response = await client.post(f"{PREFIX}/kernels", {"name": "gpu"}, content_type="application/json")
    assert response.status_code == 503 and response.json()["reason"] == "backend_unavailable"
    assert not await Kernel.objects.aexists()


async def test_a_kernel_that_cannot_launch_is_a_503_and_leaves_no_row(user, python3, kernel_settings):
    backends = {"local": {**kernel_settings["BACKENDS"]["local"]}}
    backends["local"]["OPTIONS"] = {
        **backends["local"]["OPTIONS"],
        "argv": ["/nonexistent/python", "{connection_file}"],
    }
    with override_settings(LMS_KERNELS={**kernel_settings, "BACKENDS": backends}):
        client = await logged_in_client(user)
        response = await client.post(f"{PREFIX}/kernels", {}, content_type="application/json")
    assert response.status_code == 503 and response.json()["reason"] == "kernel_start_failed"
    assert not await Kernel.objects.aexists()


# -- sessions (validation only; with kernels in test_sessions.py) ---------------------------------------------


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "No JSON data provided"),
        (b'{"type": "notebook"}', "Missing field in JSON data: path"),
        (b'{"path": "lesson"}', "Missing field in JSON data: type"),
        (b'{"path": 1, "type": "notebook"}', "'path' must be a string."),
        (b'{"path": "a", "type": "notebook", "kernel": "python3"}', "'kernel' must be an object."),
        (b'{"path": "a", "type": "notebook", "kernel": {"id": "nope"}}', "No such kernel: nope"),
        (
            ('{"path": "%s", "type": "notebook"}' % ("p" * 513)).encode(),
            "'path' is too long: at most 512 characters.",
        ),
        (
            ('{"path": "a", "name": "%s", "type": "notebook"}' % ("n" * 256)).encode(),
            "'name' is too long: at most 255 characters.",
        ),
        (('{"path": "a", "type": "%s"}' % ("t" * 65)).encode(), "'type' is too long: at most 64 characters."),
    ],
)
async def test_bad_session_requests(user, python3, body, message):
    client = await logged_in_client(user)
    response = await client.post(f"{PREFIX}/sessions", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["message"] == message
    assert not await Kernel.objects.aexists()  # refused before any kernel was started


async def test_patching_a_session_checks_lengths(user, python3):
    from lms_kernels.models import KernelSession

    kernel = await a_kernel_row(user, python3)
    session = await KernelSession.objects.acreate(owner=user, kernel=kernel, path="lesson-1", type="notebook")
    client = await logged_in_client(user)
    for field, limit in (("path", 512), ("name", 255), ("type", 64)):
        response = await client.patch(
            f"{PREFIX}/sessions/{session.id}", {field: "x" * (limit + 1)}, content_type="application/json"
        )
        assert response.status_code == 400, field
        assert response.json()["message"] == f"'{field}' is too long: at most {limit} characters."
    await session.arefresh_from_db()
    assert session.path == "lesson-1"


async def test_another_users_session_is_not_found(user, other_user, python3):
    from lms_kernels.models import KernelSession

    kernel = await a_kernel_row(other_user, python3)
    session = await KernelSession.objects.acreate(
        owner=other_user, kernel=kernel, path="lesson-1", type="notebook"
    )
    client = await logged_in_client(user)
    for method in ("get", "delete"):
        response = await getattr(client, method)(f"{PREFIX}/sessions/{session.id}")
        assert response.status_code == 404
    response = await client.patch(
        f"{PREFIX}/sessions/{session.id}", {"path": "x"}, content_type="application/json"
    )
    assert response.status_code == 404
    assert (await client.get(f"{PREFIX}/sessions")).json() == []
    # and the other user's kernel cannot be borrowed for a session either
    response = await client.post(
        f"{PREFIX}/sessions",
        {"path": "mine", "type": "notebook", "kernel": {"id": str(kernel.id)}},
        content_type="application/json",
    )
    assert response.status_code == 400
