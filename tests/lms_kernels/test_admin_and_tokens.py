"""The admin (actions on real kernels) and API tokens (hashing, the management command)."""

from io import StringIO

import psutil
import pytest
from asgiref.sync import async_to_sync
from django.core.management import CommandError, call_command
from django.urls import reverse

from lms_kernels import services
from lms_kernels.models import Kernel, KernelApiToken
from lms_kernels.models.tokens import hash_token


@pytest.fixture
def admin_client_(client, django_user_model):
    admin = django_user_model.objects.create_superuser("boss", password="pw")
    client.force_login(admin)
    return client


@pytest.mark.django_db(transaction=True)
def test_admin_lists_kernels_without_secrets_and_shuts_them_down(admin_client_, user, python3, kernels):
    kernel = async_to_sync(services.start_kernel)(user, "python3")
    pid = kernel.backend_state["pid"]
    changelist = reverse("admin:lms_kernels_kernel_changelist")
    page = admin_client_.get(changelist)
    assert page.status_code == 200 and str(kernel.id) in page.content.decode()
    detail = admin_client_.get(reverse("admin:lms_kernels_kernel_change", args=[kernel.id]))
    assert detail.status_code == 200
    assert kernel.connection_info["key"] not in detail.content.decode()
    assert f"pid={pid}" in detail.content.decode()

    response = admin_client_.post(
        changelist, {"action": "interrupt_kernels", "_selected_action": [kernel.id]}
    )
    assert response.status_code == 302
    response = admin_client_.post(changelist, {"action": "restart_kernels", "_selected_action": [kernel.id]})
    assert response.status_code == 302
    new_pid = Kernel.objects.get(pk=kernel.pk).backend_state["pid"]
    assert new_pid != pid
    response = admin_client_.post(
        changelist, {"action": "shut_down_kernels", "_selected_action": [kernel.id]}
    )
    assert response.status_code == 302
    assert not Kernel.objects.exists()
    assert not psutil.pid_exists(new_pid) or psutil.Process(new_pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.django_db
def test_admin_pages_of_environments_sessions_and_tokens(admin_client_, python3):
    for name in ["kernelenvironment", "kernelsession", "kernelapitoken"]:
        assert admin_client_.get(reverse(f"admin:lms_kernels_{name}_changelist")).status_code == 200
    assert (
        admin_client_.get(
            reverse("admin:lms_kernels_kernelenvironment_change", args=[python3.pk])
        ).status_code
        == 200
    )


@pytest.mark.django_db
def test_token_command_creates_refuses_rotates_and_revokes(user):
    out = StringIO()
    call_command("lms_kernels_token", "learner", stdout=out)
    token = out.getvalue().strip()
    row = KernelApiToken.objects.get(user=user)
    assert row.key_hash == hash_token(token) and token not in row.key_hash
    assert row.prefix == token[:6] and len(token) >= 40

    with pytest.raises(CommandError, match="--rotate"):
        call_command("lms_kernels_token", "learner", stdout=StringIO())

    out = StringIO()
    call_command("lms_kernels_token", "learner", "--rotate", stdout=out)
    rotated = out.getvalue().strip()
    assert rotated != token
    assert KernelApiToken.objects.get(user=user).key_hash == hash_token(rotated)

    call_command("lms_kernels_token", "learner", "--revoke", stdout=StringIO())
    assert not KernelApiToken.objects.exists()
    with pytest.raises(CommandError, match="no token"):
        call_command("lms_kernels_token", "learner", "--revoke", stdout=StringIO())
    with pytest.raises(CommandError, match="No user"):
        call_command("lms_kernels_token", "nobody", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_token_of_an_inactive_user_is_refused(user, python3):
    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    _row, token = await sync_to_async(KernelApiToken.objects.issue)(user)
    client = AsyncClient()
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/kernels/api/kernels", headers=headers)).status_code == 200
    row = await KernelApiToken.objects.aget(user=user)
    assert row.last_used is not None
    user.is_active = False
    await user.asave()
    assert (await client.get("/kernels/api/kernels", headers=headers)).status_code == 403
