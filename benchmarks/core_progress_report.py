#!/usr/bin/env python
"""Benchmark: the staff progress report (a cohort's learners through lms_core's REST API).

    .venv/bin/python benchmarks/core_progress_report.py [--learners 1000] [--contents 100] [--runs 10]
                                                         [--database-url postgres://…]

Builds a fresh database (a SQLite file in a temporary directory by default; with ``--database-url`` a new,
uniquely named database on that server, dropped afterwards), creates the schema with ``migrate``, bulk-creates
one instructor-paced cohort of ``--learners`` learners and ``--contents`` contents with realistic progress, runs
the deadline sweep so statuses are current, then times ``GET /core/api/cohorts/{id}/learners/`` through
Django's test ``Client``, signed in as a staff member with ``lms_core.view_enrollment`` (the usual case: their
permissions cost two queries a superuser's would not). Each scenario is requested once to warm up, then
``--runs`` times; the figures are the median and the 95th percentile (nearest rank) of the whole request,
rendering included, and the number of queries of one request (session and user included).

Scenarios: ``page`` (the first page of 100, by name: the target), ``filtered`` (delayed learners below 80 %
ordered by progress: the annotations are computed for every learner to filter and sort), ``last_page`` (page 10
of 100), and ``csv`` (the whole cohort as CSV, streamed; informational, not a page).

The population: the cohort started 10 weeks ago with contents due every 1.5 days (so about half are past due);
one content in five is optional. Learners completed the first *k* contents, *k* spread around the number due
(10 % finished everything, 25 % are 1 to 15 contents behind, the rest on track or a little ahead, with optional
contents often skipped); 60 % are working on their next content; 5 % of those behind have a deadline exception;
3 % dropped. About 60 progress rows per learner.

Target: at most 10 queries and 1 s for a page of 100 learners. A human table goes to stderr; the last line on
stdout is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 1.0
TARGET_QUERIES = 10
PAGE_SIZE = 100

urlpatterns: list = []  # this module is the benchmark's URLconf; filled in by configure()


def configure(database_url: str | None, tmpdir: str) -> str:
    """Minimal settings: lms_core alone, its API under ``core/``. Returns the database engine's short name."""
    import django
    from django.conf import settings

    if database_url:
        import dj_database_url

        database = dj_database_url.parse(database_url)
        database["TEST"] = {"NAME": f"groundup_bench_report_{os.getpid()}"}
    else:
        path = os.path.join(tmpdir, "bench.sqlite3")
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "TEST": {"NAME": path}}
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only",
        ALLOWED_HOSTS=["testserver"],
        USE_TZ=True,
        TIME_ZONE="Asia/Seoul",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            "rest_framework",
            "django_filters",
            "lms_core.apps.BackgroundTaskConfig",
            "lms_core",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        ROOT_URLCONF=__name__,
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"]
        },
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        DATABASES={"default": database},
        LOGGING_CONFIG=None,
    )
    django.setup()
    from django.urls import include, path

    urlpatterns[:] = [path("core/", include("lms_core.urls"))]
    return database["ENGINE"].rsplit(".", 1)[-1]


def populate(n_learners: int, n_contents: int, seed: int) -> dict:
    """Bulk-create the cohort; returns its id, the staff member's id and counts of what was made."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.utils import timezone

    from lms_core.deadlines import sweep_enrollments
    from lms_core.models import (
        Cohort,
        Course,
        DeadlineException,
        Enrollment,
        EnrollmentStatus,
        LearningContent,
        Pacing,
        Progress,
        ProgressState,
        ScheduleItem,
    )

    rng = random.Random(seed)
    now = timezone.now()
    every = timedelta(hours=36)
    batch = 5000

    course = Course.objects.create(title="Deep learning from the ground up", slug="dl")
    contents = LearningContent.objects.bulk_create(
        [
            LearningContent(
                course=course,
                title=f"Lesson {n + 1}",
                slug=f"lesson-{n + 1}",
                position=n,
                required=n % 5 != 4,
            )
            for n in range(n_contents)
        ]
    )
    cohort = Cohort.objects.create(
        course=course,
        name="Spring",
        slug="spring",
        pacing=Pacing.INSTRUCTOR,
        starts_at=now - timedelta(weeks=10),
        ends_at=now + timedelta(weeks=30),
    )
    ScheduleItem.objects.bulk_create(
        [
            ScheduleItem(cohort=cohort, content=content, due_at=cohort.starts_at + (n + 1) * every)
            for n, content in enumerate(contents)
        ]
    )
    n_due = sum(1 for n in range(n_contents) if cohort.starts_at + (n + 1) * every < now)

    User = get_user_model()
    given = ["Minsu", "Jiwoo", "Seoyeon", "Alex", "Sam", "Hyun", "Yuna", "Chris", "Dana", "Joon"]
    family = ["Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "김", "이", "박"]
    users = User.objects.bulk_create(
        [
            User(
                username=f"learner{i:05d}",
                first_name=rng.choice(given),
                last_name=rng.choice(family),
                password="!",
            )
            for i in range(n_learners)
        ],
        batch_size=batch,
    )
    plans, enrollments = [], []
    for user in users:
        roll = rng.random()
        if roll < 0.10:
            n_done = n_contents
        elif roll < 0.35:
            n_done = max(n_due - rng.randint(1, 15), 0)
        else:
            n_done = min(n_due + rng.randint(0, 4), n_contents)
        status = EnrollmentStatus.DROPPED if rng.random() < 0.03 else EnrollmentStatus.ACTIVE
        enrollments.append(Enrollment(user=user, cohort=cohort, started_at=cohort.starts_at, status=status))
        plans.append(n_done)
    enrollments = Enrollment.objects.bulk_create(enrollments, batch_size=batch)

    progress, exceptions = [], []
    for enrollment, n_done in zip(enrollments, plans, strict=True):
        for n, content in enumerate(contents[:n_done]):
            if not content.required and n_done < n_contents and rng.random() < 0.5:
                continue  # optional contents are often skipped
            done_at = cohort.starts_at + n * every + timedelta(hours=rng.uniform(1, 30))
            done_at = min(done_at, now - timedelta(minutes=5))
            progress.append(
                Progress(
                    enrollment_id=enrollment.pk,
                    content_id=content.pk,
                    state=ProgressState.COMPLETED,
                    percent=100,
                    first_activity_at=done_at - timedelta(hours=1),
                    last_activity_at=done_at,
                    completed_at=done_at,
                )
            )
        if n_done < n_contents and rng.random() < 0.6:
            progress.append(
                Progress(
                    enrollment_id=enrollment.pk,
                    content_id=contents[n_done].pk,
                    state=ProgressState.IN_PROGRESS,
                    percent=rng.randint(5, 95),
                    first_activity_at=now - timedelta(days=2),
                    last_activity_at=now - timedelta(hours=rng.uniform(1, 48)),
                )
            )
        if n_done < n_due and rng.random() < 0.05:
            exceptions.append(
                DeadlineException(
                    enrollment_id=enrollment.pk,
                    content_id=contents[n_done].pk,
                    due_at=now + timedelta(days=3),
                )
            )
    Progress.objects.bulk_create(progress, batch_size=batch)
    DeadlineException.objects.bulk_create(exceptions, batch_size=batch)
    swept = sweep_enrollments()

    staff = User.objects.create_user("staff", password="pw-staff-1234", is_staff=True)
    staff.user_permissions.add(
        Permission.objects.get(content_type__app_label="lms_core", codename="view_enrollment")
    )
    return {
        "cohort_id": cohort.pk,
        "staff_id": staff.pk,
        "learners": len(enrollments),
        "contents": len(contents),
        "past_due": n_due,
        "progress_rows": len(progress),
        "exceptions": len(exceptions),
        "delayed": len(swept.delayed),
        "completed": len(swept.completed),
    }


def analyze() -> None:
    """Fresh planner statistics, as a production database would have after a bulk load: autovacuum vacuums and
    analyzes the new rows on PostgreSQL (which also lets index-only scans skip the table); ``ANALYZE`` on SQLite."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (with 10 runs, p95 is the slowest run)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def measure(client, url: str, params: dict, runs: int, check) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def request():
        response = client.get(url, params)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200, body[:500]
        return response, body

    check(*request())  # warm-up (and a check that the answer is what it should be)
    seconds, queries = [], []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            request()
            seconds.append(time.perf_counter() - started)
        queries.append(len(captured.captured_queries))
    return {
        "median": statistics.median(seconds),
        "p95": percentile(seconds, 0.95),
        "queries": max(queries),
        "sql": [q["sql"] for q in captured.captured_queries],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--contents", type=int, default=100)
    parser.add_argument(
        "--runs", type=int, default=10, help="timed requests per scenario (after one warm-up)"
    )
    parser.add_argument("--database-url", help="e.g. postgres://postgres@127.0.0.1:54329/postgres")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--show-sql", action="store_true", help="print the queries of one page request")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    with tempfile.TemporaryDirectory(prefix="groundup-bench-") as tmpdir:
        database = configure(args.database_url, tmpdir)
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client
        from django.urls import reverse

        old_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            started = time.perf_counter()
            made = populate(args.learners, args.contents, args.seed)
            analyze()
            setup_seconds = time.perf_counter() - started

            client = Client()
            client.force_login(get_user_model().objects.get(pk=made["staff_id"]))
            url = reverse("lms_core:api-cohort-learner-list", kwargs={"cohort_pk": made["cohort_id"]})
            page_rows = min(PAGE_SIZE, made["learners"])

            def a_full_page(response, body):
                data = json.loads(body)
                assert data["count"] == made["learners"], data["count"]
                assert len(data["results"]) == page_rows

            def some_rows(response, body):
                assert json.loads(body)["results"]

            def every_row(response, body):
                assert body.decode("utf-8").count("\n") == made["learners"] + 1

            scenarios = {
                "page": ({"page_size": PAGE_SIZE}, a_full_page),
                "filtered": (
                    {
                        "page_size": PAGE_SIZE,
                        "status": "delayed",
                        "progress_below": 80,
                        "ordering": "-progress",
                    },
                    some_rows,
                ),
                "last_page": (
                    {"page_size": PAGE_SIZE, "page": max(math.ceil(made["learners"] / PAGE_SIZE), 1)},
                    some_rows,
                ),
                "csv": ({"format": "csv"}, every_row),
            }
            results = {
                name: measure(client, url, params, args.runs, check)
                for name, (params, check) in scenarios.items()
            }
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)

    err = sys.stderr
    print(f"\ncore_progress_report on {database}: {made}", file=err)
    print(f"setup (not timed): {setup_seconds:.1f} s; {args.runs} timed runs per scenario", file=err)
    print(f"{'scenario':<12}{'median s':>10}{'p95 s':>10}{'queries':>9}  target", file=err)
    for name, figures in results.items():
        target = "—" if name == "csv" else f"≤ {TARGET_SECONDS:g} s, ≤ {TARGET_QUERIES} queries"
        print(
            f"{name:<12}{figures['median']:>10.3f}{figures['p95']:>10.3f}{figures['queries']:>9}  {target}",
            file=err,
        )
    if args.show_sql:
        for sql in results["page"]["sql"]:
            print(f"  {sql}", file=err)
    pages = [figures for name, figures in results.items() if name != "csv"]
    report = {
        "benchmark": "core_progress_report",
        "database": database,
        "learners": made["learners"],
        "contents": made["contents"],
        "progress_rows": made["progress_rows"],
        "page_size": PAGE_SIZE,
        "runs": args.runs,
        "seconds": {"median": round(results["page"]["median"], 4), "p95": round(results["page"]["p95"], 4)},
        "queries": results["page"]["queries"],
        "scenarios": {
            name: {
                "median": round(figures["median"], 4),
                "p95": round(figures["p95"], 4),
                "queries": figures["queries"],
            }
            for name, figures in results.items()
        },
        "setup_seconds": round(setup_seconds, 1),
        "target": {"seconds": TARGET_SECONDS, "queries": TARGET_QUERIES},
        # Every page scenario (not only the easy first page) must meet the target, on its slowest run.
        "meets_target": all(f["p95"] <= TARGET_SECONDS and f["queries"] <= TARGET_QUERIES for f in pages),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
