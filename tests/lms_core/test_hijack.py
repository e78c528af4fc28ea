"""Impersonation (django-hijack): who may, the audit log, the banner, the system checks.

Everything goes through django-hijack's real acquire/release URLs with the test client (which does not
enforce CSRF), so the permission check, the signals and our receivers run exactly as in production.
"""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Permission
from django.test import override_settings
from django.urls import NoReverseMatch, include, path, reverse

from lms_core.avatars import avatar_url
from lms_core.hijack import can_hijack, client_ip, hijack_settings_check
from lms_core.models import HijackEvent
from lms_core.testing.factories import make_user

pytestmark = pytest.mark.django_db

ACQUIRE = "/hijack/acquire/"
RELEASE = "/hijack/release/"


def grant(user, *perms):
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return get_user_model().objects.get(pk=user.pk)  # fresh: no stale permission cache


@pytest.fixture
def learner():
    return make_user("learner")


@pytest.fixture
def impersonator():
    """A staff member with the dedicated permission (and nothing else)."""
    return grant(make_user("support", is_staff=True), "lms_core.hijack_user")


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser("root", password="pw-root-1234")


def acquire(client, user, **extra):
    return client.post(ACQUIRE, {"user_pk": user.pk, "next": "/admin/login/"}, **extra)


def session_user_id(client):
    return int(client.session["_auth_user_id"])


# -- the permission check ------------------------------------------------------------------------------------


def test_only_staff_with_the_permission_or_superusers_may_impersonate(learner, impersonator, superuser):
    plain_staff = make_user("staff", is_staff=True)
    perm_but_not_staff = grant(make_user("notstaff"), "lms_core.hijack_user")
    assert can_hijack(hijacker=impersonator, hijacked=learner)
    assert can_hijack(hijacker=superuser, hijacked=learner)
    assert not can_hijack(hijacker=plain_staff, hijacked=learner)
    assert not can_hijack(hijacker=perm_but_not_staff, hijacked=learner)
    assert not can_hijack(hijacker=learner, hijacked=make_user())
    assert not can_hijack(hijacker=AnonymousUser(), hijacked=learner)


def test_only_superusers_may_impersonate_staff_and_superusers(impersonator, superuser):
    other_staff = make_user("colleague", is_staff=True)
    other_superuser = get_user_model().objects.create_superuser("root2", password="pw-root-5678")
    assert not can_hijack(hijacker=impersonator, hijacked=other_staff)
    assert not can_hijack(hijacker=impersonator, hijacked=other_superuser)
    assert can_hijack(hijacker=superuser, hijacked=other_staff)
    assert can_hijack(hijacker=superuser, hijacked=other_superuser)


def test_nobody_impersonates_themselves_an_inactive_user_or_from_an_inactive_account(
    learner, impersonator, superuser
):
    assert not can_hijack(hijacker=superuser, hijacked=superuser)
    assert not can_hijack(hijacker=impersonator, hijacked=impersonator)
    learner.is_active = False
    assert not can_hijack(hijacker=superuser, hijacked=learner)
    learner.is_active = True
    impersonator.is_active = False
    assert not can_hijack(hijacker=impersonator, hijacked=learner)
    assert not can_hijack(hijacker=superuser, hijacked=None)


def test_a_session_that_is_impersonating_cannot_start_another(learner, superuser):
    superuser.is_hijacked = True  # what django-hijack's middleware sets on request.user
    assert not can_hijack(hijacker=superuser, hijacked=learner)


# -- through the real URLs ------------------------------------------------------------------------------------


def test_staff_without_the_permission_is_refused_and_nothing_is_logged(client, learner):
    client.force_login(make_user("staff", is_staff=True))
    response = acquire(client, learner)
    assert response.status_code == 403
    assert HijackEvent.objects.count() == 0


def test_learner_cannot_impersonate_anyone(client, learner):
    me = make_user("curious")
    client.force_login(me)
    assert acquire(client, learner).status_code == 403
    assert session_user_id(client) == me.pk
    assert not HijackEvent.objects.exists()


def test_impersonation_start_and_end_are_logged_with_who_whom_when_and_ip(client, learner, impersonator):
    client.force_login(impersonator)
    response = client.post(
        ACQUIRE, {"user_pk": learner.pk, "next": "/admin/login/"}, REMOTE_ADDR="203.0.113.7"
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/"
    assert session_user_id(client) == learner.pk

    started = HijackEvent.objects.get()
    assert started.action == HijackEvent.Action.STARTED
    assert (started.hijacker, started.hijacked) == (impersonator, learner)
    assert started.ip_address == "203.0.113.7"
    assert started.path == "/admin/login/"
    assert started.at is not None

    response = client.post(RELEASE, {"next": "/admin/login/?page=2"}, REMOTE_ADDR="2001:db8::1")
    assert response.status_code == 302
    assert session_user_id(client) == impersonator.pk

    ended = HijackEvent.objects.get(action=HijackEvent.Action.ENDED)
    assert (ended.hijacker, ended.hijacked) == (impersonator, learner)
    assert ended.ip_address == "2001:db8::1"
    assert ended.path == "/admin/login/?page=2"
    assert ended.at >= started.at
    assert HijackEvent.objects.count() == 2


def test_a_foreign_next_url_is_not_recorded_as_the_page(client, learner, impersonator):
    client.force_login(impersonator)
    client.post(ACQUIRE, {"user_pk": learner.pk, "next": "https://evil.example/"})
    assert HijackEvent.objects.get().path == ACQUIRE


def test_staff_with_the_permission_cannot_impersonate_staff_or_superusers(client, impersonator, superuser):
    client.force_login(impersonator)
    assert acquire(client, make_user("colleague", is_staff=True)).status_code == 403
    assert acquire(client, superuser).status_code == 403
    assert session_user_id(client) == impersonator.pk
    assert not HijackEvent.objects.exists()


def test_a_superuser_can_impersonate_staff(client, impersonator, superuser):
    client.force_login(superuser)
    assert acquire(client, impersonator).status_code == 302
    assert session_user_id(client) == impersonator.pk
    event = HijackEvent.objects.get()
    assert (event.hijacker, event.hijacked, event.ip_address) == (superuser, impersonator, "127.0.0.1")


def test_an_impersonated_staff_member_cannot_impersonate_further(client, learner, impersonator, superuser):
    client.force_login(superuser)
    acquire(client, impersonator)
    assert acquire(client, learner).status_code == 403  # the borrowed account may not chain
    assert session_user_id(client) == impersonator.pk
    assert HijackEvent.objects.count() == 1


def test_inactive_or_unknown_users_cannot_be_impersonated(client, superuser):
    client.force_login(superuser)
    assert acquire(client, make_user("gone", is_active=False)).status_code == 403
    assert client.post(ACQUIRE, {"user_pk": 999999}).status_code == 404
    assert client.post(ACQUIRE, {}).status_code == 400
    assert client.post(ACQUIRE, {"user_pk": "abc"}).status_code == 400
    assert not HijackEvent.objects.exists()


def test_logging_out_while_impersonating_records_the_end(client, learner, impersonator):
    client.force_login(impersonator)
    acquire(client, learner, REMOTE_ADDR="203.0.113.7")
    response = client.post(reverse("logout"), REMOTE_ADDR="203.0.113.8")
    assert response.status_code in (200, 302)  # the "logged out" page, or LOGOUT_REDIRECT_URL
    assert "_auth_user_id" not in client.session and "hijack_history" not in client.session
    assert [e.action for e in HijackEvent.objects.order_by("at", "pk")] == ["started", "ended"]
    ended = HijackEvent.objects.get(action=HijackEvent.Action.ENDED)
    assert (ended.hijacker, ended.hijacked) == (impersonator, learner)
    assert ended.ip_address == "203.0.113.8"
    assert ended.path == reverse("logout")
    # Signed out, the session can neither release nor act as anyone.
    assert client.post(RELEASE).status_code in (302, 403)
    assert HijackEvent.objects.count() == 2


def test_logging_out_without_impersonating_records_nothing(client, impersonator):
    client.force_login(impersonator)
    assert client.post(reverse("logout")).status_code in (200, 302)
    assert not HijackEvent.objects.exists()


def test_release_without_impersonating_is_refused(client, impersonator):
    client.force_login(impersonator)
    assert client.post(RELEASE).status_code == 403
    assert not HijackEvent.objects.exists()


# -- the client address ---------------------------------------------------------------------------------------


def test_proxy_header_is_ignored_unless_configured(client, learner, impersonator):
    client.force_login(impersonator)
    acquire(client, learner, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert HijackEvent.objects.get().ip_address == "10.0.0.2"


@override_settings(LMS_CORE={"CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR"})
def test_configured_proxy_header_uses_the_address_the_proxy_appended(client, learner, impersonator):
    client.force_login(impersonator)
    # The client forged the first address; our proxy appended the real one.
    acquire(client, learner, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.1")
    assert HijackEvent.objects.get().ip_address == "198.51.100.1"


@override_settings(LMS_CORE={"CLIENT_IP_HEADER": "HTTP_X_REAL_IP"})
def test_client_ip_falls_back_to_the_peer_and_never_stores_garbage(rf):
    assert client_ip(rf.get("/", HTTP_X_REAL_IP="198.51.100.9", REMOTE_ADDR="10.0.0.2")) == "198.51.100.9"
    assert client_ip(rf.get("/", HTTP_X_REAL_IP="not-an-ip", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"
    assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"
    assert client_ip(rf.get("/", REMOTE_ADDR="")) is None


def test_client_ip_header_setting_is_validated():
    from lms_core.checks import settings_check

    with override_settings(LMS_CORE={"CLIENT_IP_HEADER": "X-Forwarded-For"}):
        (error,) = settings_check()
    assert error.id == "lms_core.E004"
    assert "CLIENT_IP_HEADER" in error.msg
    with override_settings(LMS_CORE={"CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR"}):
        assert settings_check() == []


# -- the banner -----------------------------------------------------------------------------------------------


def assert_banner(response, name):
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="djhj"' in html
    assert f'action="{RELEASE}"' in html
    assert name in html
    assert html.index('id="djhj"') < html.rindex("</body>")


def test_an_impersonating_session_sees_the_banner_with_a_release_form(client, learner, impersonator):
    client.force_login(impersonator)
    assert 'id="djhj"' not in client.get("/admin/login/").content.decode()
    acquire(client, learner)
    assert_banner(client.get("/admin/login/"), "learner")


def test_every_page_the_learner_sees_through_lms_core_shows_the_banner(client, learner, impersonator):
    """lms_core's own HTML pages (the browsable API, its error pages) carry the banner while impersonating; the
    avatar image (not HTML) does not get one."""
    client.force_login(impersonator)
    acquire(client, learner)
    for url in ("/core/api/", "/core/api/me/enrollments/", "/core/api/me/enrollments/999999/"):
        response = client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code in (200, 404), url
        html = response.content.decode()
        assert 'id="djhj"' in html, url
        assert html.index('id="djhj"') < html.rindex("</body>"), url
    avatar = client.get(avatar_url(learner))
    assert avatar["Content-Type"] == "image/png"
    assert b"djhj" not in avatar.content


def test_the_example_site_home_page_shows_the_banner(client, learner, impersonator):
    try:
        home = reverse("home")
    except NoReverseMatch:
        pytest.skip(
            "this settings project has no home page (the example site's test runs in the full project)"
        )
    client.force_login(impersonator)
    acquire(client, learner)
    assert_banner(client.get(home), "learner")
    client.post(RELEASE)
    assert 'id="djhj"' not in client.get(home).content.decode()


# -- system checks --------------------------------------------------------------------------------------------


def test_project_settings_pass_the_hijack_checks():
    assert hijack_settings_check() == []


def test_foreign_permission_check_and_missing_middleware_are_reported(settings):
    settings.HIJACK_PERMISSION_CHECK = "hijack.permissions.superusers_and_staff"
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "hijack.middleware.HijackUserMiddleware"]
    warnings = hijack_settings_check()
    assert [w.id for w in warnings] == ["lms_core.W102", "lms_core.W103"]
    assert "lms_core.hijack.can_hijack" in warnings[0].hint


# -- lms_core.hijack.urls: bad input is a 4xx with a message, not a server error-----------------------------------------

urlpatterns = [
    path("hijack/", include("lms_core.hijack.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
]


def assert_refused(response, status, message):
    assert response.status_code == status
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert message in response.content.decode()


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("user_pk", ["abc", "1.5", "", " ", "9" * 30, "0x10"])
def test_a_malformed_user_pk_is_a_400_with_a_message(client, superuser, user_pk):
    client.force_login(superuser)
    assert_refused(client.post(ACQUIRE, {"user_pk": user_pk}), 400, "is not a user's id")
    assert session_user_id(client) == superuser.pk
    assert not HijackEvent.objects.exists()


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("user_pk", ["999999", "-1", "0"])
def test_an_unknown_user_is_a_404_with_a_message(client, superuser, user_pk):
    client.force_login(superuser)
    assert_refused(client.post(ACQUIRE, {"user_pk": user_pk}), 404, "No such user")
    assert session_user_id(client) == superuser.pk
    assert not HijackEvent.objects.exists()


@pytest.mark.urls(__name__)
def test_a_refused_impersonation_is_a_403_with_a_message(client, impersonator, superuser):
    client.force_login(impersonator)
    assert_refused(acquire(client, superuser), 403, "You may not impersonate")
    assert_refused(client.post(ACQUIRE, {}), 400, "Say which user")
    assert session_user_id(client) == impersonator.pk
    assert not HijackEvent.objects.exists()


@pytest.mark.urls(__name__)
def test_an_anonymous_visitor_is_sent_to_log_in(client, learner):
    response = acquire(client, learner)
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert not HijackEvent.objects.exists()


@pytest.mark.parametrize("user_pk", ["abc", "", "9" * 30])
def test_the_projects_own_hijack_urls_answer_bad_input_with_a_message(
    client, impersonator, superuser, user_pk
):
    """The project's URLconf (the example site's in the full project) includes lms_core.hijack.urls, not
    django-hijack's, whose lookup fails with a server error on these."""
    client.force_login(impersonator)
    assert_refused(client.post(reverse("hijack:acquire"), {"user_pk": user_pk}), 400, "is not a user's id")
    assert_refused(
        client.post(reverse("hijack:acquire"), {"user_pk": superuser.pk}), 403, "You may not impersonate"
    )
    assert session_user_id(client) == impersonator.pk
    assert not HijackEvent.objects.exists()


@pytest.mark.urls(__name__)
def test_our_urls_are_django_hijacks_with_the_same_names(client, learner, impersonator):
    assert reverse("hijack:acquire") == ACQUIRE
    assert reverse("hijack:release") == RELEASE
    client.force_login(impersonator)
    assert acquire(client, learner).status_code == 302
    assert_banner(client.get("/admin/login/"), "learner")
    assert client.post(RELEASE, {"next": "/admin/login/"}).status_code == 302
    assert [e.action for e in HijackEvent.objects.order_by("at", "pk")] == ["started", "ended"]
