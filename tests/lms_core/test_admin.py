"""lms_core's admin, through real requests: every page, the progress bar, actions, buttons, the audit log."""

import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from lms_core import signals
from lms_core.deadlines import sweep_enrollments
from lms_core.models import (
    Cohort,
    Course,
    DeadlineException,
    Enrollment,
    EnrollmentStatus,
    HijackEvent,
    LearningContent,
    Pacing,
    Progress,
    ProgressState,
    ScheduleItem,
)
from lms_core.services import record_progress
from lms_core.testing.factories import make_cohort, make_course, make_enrollment, make_user

pytestmark = pytest.mark.django_db

MODELS = [Course, Cohort, LearningContent, ScheduleItem, Enrollment, Progress, DeadlineException, HijackEvent]


def grant(user, *perms):
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return get_user_model().objects.get(pk=user.pk)


def url(model, view="changelist", *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser("root", password="pw-root-1234")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def data():
    """A course of 4 contents (3 required), an instructor-paced cohort with items due weekly, 2 learners."""
    course = make_course("Deep learning 101", contents=4)
    optional = course.contents.order_by("position").last()
    optional.required = False
    optional.save()
    cohort = make_cohort(course, starts_at=timezone.now() - timedelta(days=30))
    ada = make_enrollment(make_user("ada"), cohort)
    bob = make_enrollment(make_user("bob"), cohort)
    contents = list(course.contents.order_by("position"))
    record_progress(ada.user, contents[0], completed=True, enrollment=ada)
    record_progress(ada.user, contents[1], completed=True, enrollment=ada)
    record_progress(ada.user, contents[3], completed=True, enrollment=ada)  # optional: does not count
    record_progress(bob.user, contents[0], percent=40, enrollment=bob)
    sweep_enrollments()
    return {"course": course, "cohort": cohort, "ada": ada, "bob": bob, "contents": contents}


def test_every_model_is_registered():
    for model in MODELS:
        assert admin.site.is_registered(model), model


def test_every_changelist_and_add_page_renders(admin_client, data):
    DeadlineException.objects.create(
        enrollment=data["ada"], content=data["contents"][2], due_at=timezone.now() + timedelta(days=3)
    )
    HijackEvent.objects.create(action="started", hijacker=make_user("s"), hijacked=data["ada"].user)
    for model in MODELS:
        response = admin_client.get(url(model))
        assert response.status_code == 200, model
        response = admin_client.get(url(model), {"q": "ada"})
        assert response.status_code == 200, model
        obj = model.objects.first()
        assert admin_client.get(url(model, "change", obj.pk)).status_code == 200, model
    for model in [Course, Cohort, LearningContent, ScheduleItem, Enrollment, DeadlineException]:
        assert admin_client.get(url(model, "add")).status_code == 200, model


def filter_links(html):
    """The ``?…`` links of a changelist's filter sidebar."""
    sidebar = html[html.index('id="changelist-filter"') :]
    return sorted(set(re.findall(r'href="(\?[^"]+)"', sidebar)))


def test_every_list_filter_of_every_model_works(admin_client, data):
    DeadlineException.objects.create(
        enrollment=data["ada"], content=data["contents"][2], due_at=timezone.now() + timedelta(days=3)
    )
    HijackEvent.objects.create(action="started", hijacker=make_user("s"), hijacked=data["ada"].user)
    data["course"].instructors.add(make_user("teacher"))
    for model in MODELS:
        html = admin_client.get(url(model)).content.decode()
        links = filter_links(html)
        assert links, model
        for link in links:
            response = admin_client.get(url(model) + link.replace("&amp;", "&"))
            assert response.status_code == 200, (model, link)  # an invalid lookup redirects with ?e=1


def test_the_enrollment_status_filter(admin_client, data):
    record_progress(data["ada"].user, data["contents"][2], completed=True, enrollment=data["ada"])
    html = admin_client.get(url(Enrollment), {"status__exact": "delayed"}).content.decode()
    assert ">bob<" in html and ">ada<" not in html
    html = admin_client.get(url(Enrollment), {"status__exact": "completed"}).content.decode()
    assert ">ada<" in html and ">bob<" not in html
    html = admin_client.get(url(Enrollment), {"cohort__pacing__exact": "self"}).content.decode()
    assert "0 enrollments" in html


def test_korean_search_finds_the_course(admin_client):
    make_course("딥러닝 입문", contents=1)
    make_course("Statistics")
    response = admin_client.get(url(Course), {"q": "딥러닝"})
    assert "딥러닝 입문" in response.content.decode()
    assert "Statistics" not in response.content.decode()


def progress_cells(html):
    return re.findall(
        r'<progress value="(\d+)" max="(\d+)"[^>]*>\d+%</progress> (\d+) / (\d+) \((\d+)%\)', html
    )


def test_enrollment_progress_bar_counts_completed_required_contents(admin_client, data):
    html = admin_client.get(url(Enrollment), {"o": "4"}).content.decode()  # ordered by progress
    # bob: 0 of 3 required; ada: 2 of 3 (her optional content does not count), in this order.
    assert progress_cells(html) == [("0", "3", "0", "3", "0"), ("2", "3", "2", "3", "67")]
    assert 'aria-label="required contents completed"' in html
    html = admin_client.get(url(Enrollment, "change", data["ada"].pk)).content.decode()
    assert progress_cells(html) == [("2", "3", "2", "3", "67")]


def test_course_without_required_contents_says_so(admin_client):
    course = make_course("Optional only", contents=1)
    course.contents.update(required=False)
    make_enrollment(cohort=make_cohort(course))
    assert "no required contents" in admin_client.get(url(Enrollment)).content.decode()


def changelist_queries(client, model, **params):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url(model), params).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("model", [Enrollment, Progress, Course, Cohort, ScheduleItem, HijackEvent])
def test_changelists_run_a_constant_number_of_queries(admin_client, data, model):
    cohort = data["cohort"]

    def add_rows(n):
        for _ in range(n):
            enrollment = make_enrollment(make_user(), cohort)
            record_progress(enrollment.user, data["contents"][0], completed=True, enrollment=enrollment)
            HijackEvent.objects.create(action="started", hijacker=data["ada"].user, hijacked=enrollment.user)
            course = make_course(contents=2)
            make_cohort(course)

    add_rows(2)
    few = changelist_queries(admin_client, model)
    add_rows(8)
    assert changelist_queries(admin_client, model) == few


def test_enrollment_changelist_queries_are_constant_for_a_staff_member_with_buttons(client, data):
    staff = grant(make_user("support", is_staff=True), "lms_core.hijack_user", "lms_core.view_enrollment")
    client.force_login(staff)
    few = changelist_queries(client, Enrollment)
    for _ in range(10):
        make_enrollment(make_user(), data["cohort"])
    html = client.get(url(Enrollment)).content.decode()
    assert html.count("data-hijack-user=") == 12
    assert changelist_queries(client, Enrollment) == few


# -- actions --------------------------------------------------------------------------------------------------


def run_action(client, model, action, objs):
    return client.post(url(model), {"action": action, "_selected_action": [o.pk for o in objs]}, follow=True)


def test_mark_dropped_and_reactivate(admin_client, data):
    ada, bob = data["ada"], data["bob"]
    response = run_action(admin_client, Enrollment, "mark_dropped", [ada, bob])
    assert "2 enrollments marked dropped." in response.content.decode()
    assert set(Enrollment.objects.values_list("status", flat=True)) == {EnrollmentStatus.DROPPED}

    response = run_action(admin_client, Enrollment, "reactivate", [ada, bob])
    assert "2 enrollments re-activated." in response.content.decode()
    # Re-activation re-sweeps: both have a required content overdue (the cohort started 30 days ago).
    assert set(Enrollment.objects.values_list("status", flat=True)) == {EnrollmentStatus.DELAYED}


def test_update_status_action_sweeps_the_selected_enrollments(admin_client, data):
    bob = data["bob"]
    Enrollment.objects.filter(pk=bob.pk).update(status=EnrollmentStatus.ACTIVE)
    response = run_action(admin_client, Enrollment, "update_status", [bob])
    assert "1 now delayed, 0 caught up, 0 completed." in response.content.decode()
    bob.refresh_from_db()
    assert bob.status == EnrollmentStatus.DELAYED


def test_actions_need_the_change_permission(client, data):
    viewer = grant(make_user("viewer", is_staff=True), "lms_core.view_enrollment")
    client.force_login(viewer)
    html = client.get(url(Enrollment)).content.decode()
    assert "mark_dropped" not in html
    run_action(client, Enrollment, "mark_dropped", [data["ada"]])
    data["ada"].refresh_from_db()
    assert data["ada"].status != EnrollmentStatus.DROPPED


def test_mark_progress_completed_goes_through_the_service(
    admin_client, data, django_capture_on_commit_callbacks
):
    completed = []

    def receiver(sender, **kwargs):
        completed.append(kwargs["content"])

    signals.content_completed.connect(receiver)
    try:
        progress = Progress.objects.get(enrollment=data["bob"], content=data["contents"][0])
        with django_capture_on_commit_callbacks(execute=True):
            response = run_action(admin_client, Progress, "mark_completed", [progress])
    finally:
        signals.content_completed.disconnect(receiver)
    assert "1 content marked completed." in response.content.decode()
    progress.refresh_from_db()
    assert progress.state == ProgressState.COMPLETED
    assert progress.percent == 100
    assert completed == [data["contents"][0]]


def test_progress_is_not_editable_in_the_admin(admin_client, data):
    progress = Progress.objects.filter(enrollment=data["ada"]).first()
    response = admin_client.post(url(Progress, "change", progress.pk), {"percent": 5})
    assert response.status_code == 403
    assert admin_client.get(url(Progress, "add")).status_code == 403


# -- forms ----------------------------------------------------------------------------------------------------


def test_granting_a_deadline_exception_records_who_and_resweeps(admin_client, superuser, data):
    bob = data["bob"]
    assert Enrollment.objects.get(pk=bob.pk).status == EnrollmentStatus.DELAYED
    later = timezone.now() + timedelta(days=30)
    # The cohort started 30 days ago with items due weekly: bob's three required contents are all overdue.
    # Granting an exception for each, through the admin, puts him back on track.
    for content in data["contents"][:3]:
        response = admin_client.post(
            url(DeadlineException, "add"),
            {
                "enrollment": bob.pk,
                "content": content.pk,
                "due_at_0": later.strftime("%Y-%m-%d"),
                "due_at_1": "12:00:00",
                "reason": "illness",
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
    exception = DeadlineException.objects.filter(enrollment=bob).first()
    assert exception.granted_by == superuser
    assert Enrollment.objects.get(pk=bob.pk).status == EnrollmentStatus.ACTIVE

    # Deleting an exception brings the overdue content back.
    response = admin_client.post(url(DeadlineException, "delete", exception.pk), {"post": "yes"})
    assert response.status_code == 302
    assert Enrollment.objects.get(pk=bob.pk).status == EnrollmentStatus.DELAYED


def test_deadline_exception_for_another_course_or_before_the_start_is_refused(admin_client, data):
    foreign = make_course(contents=1).contents.get()
    response = admin_client.post(
        url(DeadlineException, "add"),
        {
            "enrollment": data["bob"].pk,
            "content": foreign.pk,
            "due_at_0": (data["cohort"].starts_at - timedelta(days=1)).strftime("%Y-%m-%d"),
            "due_at_1": "12:00:00",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "That content is not part of this learner&#x27;s course." in html
    assert "The new due date is before the cohort starts." in html
    assert not DeadlineException.objects.exists()


def inline_management(prefix, total=1, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_adding_a_self_paced_cohort_with_a_fixed_date_item_is_refused_whole(admin_client):
    course = make_course(contents=1)
    content = course.contents.get()
    response = admin_client.post(
        url(Cohort, "add"),
        {
            "course": course.pk,
            "name": "Spring",
            "slug": "",
            "starts_at_0": "2030-03-01",
            "starts_at_1": "09:00:00",
            "ends_at_0": "2030-06-01",
            "ends_at_1": "09:00:00",
            "pacing": Pacing.SELF,
            **inline_management("schedule"),
            "schedule-0-content": content.pk,
            "schedule-0-due_at_0": "2030-03-08",
            "schedule-0-due_at_1": "09:00:00",
            "schedule-0-due_offset": "",
        },
    )
    assert response.status_code == 200
    assert "Self-paced cohorts use offsets from each learner&#x27;s start." in response.content.decode()
    assert not Cohort.objects.filter(name="Spring").exists()


def test_a_cohort_ending_before_it_starts_is_refused(admin_client):
    course = make_course(contents=1)
    response = admin_client.post(
        url(Cohort, "add"),
        {
            "course": course.pk,
            "name": "Backwards",
            "slug": "",
            "starts_at_0": "2030-06-01",
            "starts_at_1": "09:00:00",
            "ends_at_0": "2030-03-01",
            "ends_at_1": "09:00:00",
            "pacing": Pacing.INSTRUCTOR,
            **inline_management("schedule", total=0),
        },
    )
    assert response.status_code == 200
    assert "A cohort cannot end before it starts." in response.content.decode()
    assert not Cohort.objects.exists()


def test_a_fixed_due_date_before_the_cohort_starts_is_refused(admin_client):
    cohort = make_cohort(make_course(contents=1), starts_at=timezone.now(), schedule_every=None)
    content = cohort.course.contents.get()
    before = (cohort.starts_at - timedelta(days=2)).strftime("%Y-%m-%d")
    response = admin_client.post(
        url(ScheduleItem, "add"),
        {
            "cohort": cohort.pk,
            "content": content.pk,
            "due_at_0": before,
            "due_at_1": "09:00:00",
            "due_offset": "",
        },
    )
    assert response.status_code == 200
    assert "The due date is before the cohort starts." in response.content.decode()
    assert not ScheduleItem.objects.exists()


def test_adding_a_cohort_with_its_schedule(admin_client):
    course = make_course(contents=1)
    content = course.contents.get()
    response = admin_client.post(
        url(Cohort, "add"),
        {
            "course": course.pk,
            "name": "Spring",
            "slug": "",
            "starts_at_0": "2030-03-01",
            "starts_at_1": "09:00:00",
            "ends_at_0": "2030-06-01",
            "ends_at_1": "09:00:00",
            "pacing": Pacing.SELF,
            **inline_management("schedule"),
            "schedule-0-content": content.pk,
            "schedule-0-due_offset": "7 00:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    cohort = Cohort.objects.get(name="Spring")
    assert cohort.schedule.get().due_offset == timedelta(days=7)


def test_enrollment_cannot_start_before_its_cohort(admin_client, data):
    response = admin_client.post(
        url(Enrollment, "add"),
        {
            "user": make_user("late").pk,
            "cohort": data["cohort"].pk,
            "status": EnrollmentStatus.ACTIVE,
            "started_at_0": (data["cohort"].starts_at - timedelta(days=2)).strftime("%Y-%m-%d"),
            "started_at_1": "10:00:00",
            "date_shift": "0",
            "shift_count": "0",
            **inline_management("progress", total=0),
        },
    )
    assert response.status_code == 200
    assert "A learner cannot start before the cohort starts." in response.content.decode()


# -- impersonation buttons and the audit log ------------------------------------------------------------------


def test_enrollment_rows_have_an_impersonate_button_for_learners_only(client, data):
    staff_learner = make_enrollment(make_user("ta", is_staff=True), data["cohort"])
    support = grant(make_user("support", is_staff=True), "lms_core.hijack_user", "lms_core.view_enrollment")
    client.force_login(support)
    html = client.get(url(Enrollment)).content.decode()
    buttons = set(re.findall(r'data-hijack-user="(\d+)"', html))
    assert buttons == {str(data["ada"].user_id), str(data["bob"].user_id)}
    assert str(staff_learner.user_id) not in buttons
    assert 'data-hijack-url="/hijack/acquire/"' in html
    assert "Impersonate ada" in html
    assert "hijack/hijack.js" in html


def test_no_impersonate_button_without_the_permission(client, data):
    viewer = grant(make_user("viewer", is_staff=True), "lms_core.view_enrollment")
    client.force_login(viewer)
    assert "data-hijack-user" not in client.get(url(Enrollment)).content.decode()


def test_user_changelist_has_impersonate_buttons(client, data):
    support = grant(make_user("support", is_staff=True), "lms_core.hijack_user", "auth.view_user")
    client.force_login(support)
    User = get_user_model()
    html = client.get(reverse(f"admin:{User._meta.app_label}_{User._meta.model_name}_changelist")).content
    buttons = set(re.findall(r'data-hijack-user="(\d+)"', html.decode()))
    assert {str(data["ada"].user_id), str(data["bob"].user_id)} <= buttons
    assert str(support.pk) not in buttons  # not themselves, not staff


def test_audit_log_is_read_only_even_for_superusers(admin_client, data):
    event = HijackEvent.objects.create(
        action="started", hijacker=make_user("s", is_staff=True), hijacked=data["ada"].user, ip_address="::1"
    )
    assert admin_client.get(url(HijackEvent, "add")).status_code == 403
    assert admin_client.get(url(HijackEvent, "delete", event.pk)).status_code == 403
    response = admin_client.post(url(HijackEvent, "change", event.pk), {"action": "ended", "path": "/x"})
    assert response.status_code == 403
    event.refresh_from_db()
    assert (event.action, event.path) == ("started", "")
    html = admin_client.get(url(HijackEvent, "change", event.pk)).content.decode()
    assert 'name="_save"' not in html
    assert "delete_selected" not in admin_client.get(url(HijackEvent)).content.decode()


def test_audit_log_is_visible_to_staff_with_the_view_permission_only(client, data):
    HijackEvent.objects.create(action="started", hijacker=make_user("s"), hijacked=data["ada"].user)
    staff = make_user("staff", is_staff=True)
    client.force_login(staff)
    assert client.get(url(HijackEvent)).status_code == 403
    client.force_login(grant(staff, "lms_core.view_hijackevent"))
    response = client.get(url(HijackEvent))
    assert response.status_code == 200
    assert "ada" in response.content.decode()


def test_impersonating_from_the_enrollment_admin_lands_in_the_audit_log(client, data):
    support = grant(make_user("support", is_staff=True), "lms_core.hijack_user", "lms_core.view_enrollment")
    client.force_login(support)
    html = client.get(url(Enrollment)).content.decode()
    match = re.search(
        rf'data-hijack-user="{data["ada"].user_id}"\s+data-hijack-next="([^"]*)"\s+data-hijack-url="([^"]+)"',
        html,
    )
    assert match, html
    next_url, acquire_url = match.groups()
    response = client.post(acquire_url, {"user_pk": data["ada"].user_id, "next": next_url})
    assert response.status_code == 302
    event = HijackEvent.objects.get()
    assert (event.hijacker, event.hijacked) == (support, data["ada"].user)


# -- in a real browser: the button's JavaScript, the banner, the release form --------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_impersonating_a_learner_from_the_enrollment_admin_in_a_browser(
    live_server, chromium_executable, artifacts_dir, settings
):
    from playwright.sync_api import sync_playwright

    try:
        reverse("home")  # the example site: land on the learner's dashboard
    except NoReverseMatch:
        # A bare settings project has no page at LOGIN_REDIRECT_URL; its 404 page never reads the session,
        # so django-hijack's middleware would not add the banner there. Land on a page that does.
        settings.LOGIN_REDIRECT_URL = "/admin/login/"

    # All database work happens outside Playwright's block: its event loop makes Django refuse ORM calls.
    cohort = make_cohort(make_course("Vision", contents=2))
    learner = make_enrollment(make_user("minji", first_name="Minji"), cohort).user
    support = make_user("support", password="pw-support-1234", is_staff=True)
    grant(support, "lms_core.hijack_user", "lms_core.view_enrollment", "lms_core.view_hijackevent")
    errors = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(live_server.url + "/admin/login/")
            page.get_by_label("Username").fill("support")
            page.get_by_label("Password").fill("pw-support-1234")
            page.get_by_role("button", name="Log in").click()
            page.goto(live_server.url + url(Enrollment))
            assert page.locator("progress").first.get_attribute("max") == "2"
            page.screenshot(path=str(artifacts_dir / "lms-core-admin-enrollments.png"), full_page=True)
            with page.expect_navigation():
                page.get_by_role("button", name="Impersonate minji").click()
            banner = page.locator("#djhj")
            banner.wait_for()
            assert "minji" in banner.inner_text()
            page.screenshot(path=str(artifacts_dir / "lms-core-impersonation-banner.png"), full_page=True)
            with page.expect_navigation():
                page.locator("#djhj").get_by_role("button", name="stop impersonating").click()
            assert page.locator("#djhj").count() == 0
        finally:
            browser.close()
    assert errors == []
    events = list(HijackEvent.objects.order_by("at", "pk").values_list("action", "hijacker", "hijacked"))
    assert events == [("started", support.pk, learner.pk), ("ended", support.pk, learner.pk)]
