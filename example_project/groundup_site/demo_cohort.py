"""Demo data for the instructor's dashboard: classmates of the demo learner at different points of the course,
and the cohort's status history of the last two weeks (so the charts have something to show on day one)."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction

#: (username, given name, family name, contents completed of the demo course's first four)
CLASSMATES = [
    ("seoyeon", "서연", "박", 4),
    ("jihoon", "지훈", "최", 3),
    ("hana", "하나", "정", 3),
    ("grace", "Grace", "Kim", 2),
    ("doyun", "도윤", "강", 2),
    ("yuna", "유나", "조", 1),
    ("omar", "Omar", "Haddad", 1),
    ("minseo", "민서", "윤", 0),
]
PASSWORD = "groundup-classmate"  # noqa: S105 (demo accounts, printed by the demo command)


@transaction.atomic
def load_cohort_activity():
    from django.utils import timezone

    from lms_core.deadlines import sweep_enrollments
    from lms_core.models import Cohort, CohortStatusSnapshot, Enrollment, Progress
    from lms_core.services import record_progress
    from lms_core.stats import record_status_snapshots

    cohort = Cohort.objects.select_related("course").get(course__slug="ai-기초", slug="2026-가을")
    contents = list(cohort.course.contents.order_by("position")[:4])
    User = get_user_model()
    ids = []
    for username, first, last, done in CLASSMATES:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"},
        )
        if created:
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
        enrollment, _ = Enrollment.objects.get_or_create(
            user=user, cohort=cohort, defaults={"started_at": cohort.starts_at}
        )
        ids.append(enrollment.pk)
        if not Progress.objects.filter(enrollment=enrollment).exists():
            for content in contents[:done]:
                record_progress(user, content, completed=True, enrollment=enrollment)
    sweep_enrollments(enrollment_ids=ids)

    # Two weeks of history: more learners fell behind as the second and third due dates passed.
    now = timezone.now()
    total = cohort.enrollments.count()
    today = timezone.localdate(now)
    for back in range(14, 0, -1):
        delayed = min(total, max(0, (14 - back) // 3))
        CohortStatusSnapshot.objects.update_or_create(
            cohort=cohort,
            day=today - timedelta(days=back),
            defaults={"active": total - delayed, "delayed": delayed, "taken_at": now - timedelta(days=back)},
        )
    record_status_snapshots(now=now, cohorts=Cohort.objects.filter(pk=cohort.pk))
    delayed_now = cohort.enrollments.filter(status="delayed").count()
    return [
        f"  {len(CLASSMATES)} classmates in {cohort.name!r} (password {PASSWORD!r}); {delayed_now} of {total} "
        "learners are delayed today"
    ]
