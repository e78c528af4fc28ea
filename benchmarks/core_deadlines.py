#!/usr/bin/env python
"""Benchmark: lms_core's deadline sweep over a large, realistic population of enrollments.

    .venv/bin/python benchmarks/core_deadlines.py [--enrollments 100000] [--items 20] [--cohorts 50]
                                                  [--database-url postgres://…] [--repeat 1]

Builds a fresh database (a SQLite file in a temporary directory by default; with ``--database-url`` a new,
uniquely named database on that server, dropped afterwards), creates the schema with ``migrate``, bulk-creates
the population, then times :func:`lms_core.deadlines.sweep_enrollments` twice: the first sweep moves the
enrollments whose status is out of date, the second (idempotent, at the same moment) one must change nothing. Setup time is not part
of the figure.

The population: half the cohorts instructor-paced (fixed weekly due dates, cohorts started 1 to 20 weeks ago),
half self-paced (each learner started 0 to 21 weeks ago; items due every week after their start). Two contents
in ten are optional. About 10 % of learners finished everything, about 15 % are behind by one to three
required contents (so 10-20 % are overdue), the rest are on track or ahead; a few have deadline exceptions or
shifted their own dates; 3 % dropped. The stored statuses are those of a previous sweep a while ago, so the
first sweep moves some learners in every direction.

A human table goes to stderr; the last line on stdout is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 5


def configure(database_url: str | None, tmpdir: str) -> str:
    """Minimal settings: lms_core alone. Returns a short name of the database for the report."""
    import django
    from django.conf import settings

    if database_url:
        import dj_database_url

        database = dj_database_url.parse(database_url)
        database["TEST"] = {"NAME": f"groundup_bench_{os.getpid()}"}
    else:
        path = os.path.join(tmpdir, "bench.sqlite3")
        database = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "TEST": {"NAME": path},
        }
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only",
        USE_TZ=True,
        TIME_ZONE="Asia/Seoul",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "lms_core.apps.BackgroundTaskConfig",
            "lms_core",
        ],
        DATABASES={"default": database},
        LOGGING_CONFIG=None,
    )
    django.setup()
    return database["ENGINE"].rsplit(".", 1)[-1]


def create_database() -> None:
    """A fresh database with the schema made by ``migrate`` (Django's test-database machinery, unique name)."""
    from django.db import connection

    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)


def destroy_database(old_name: str) -> None:
    from django.db import connection

    connection.creation.destroy_test_db(old_name, verbosity=0)


def populate(n_enrollments: int, n_items: int, n_cohorts: int, seed: int) -> dict:
    """Bulk-create the population; returns counts of what was made."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

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
    week = timedelta(days=7)
    batch = 5000

    courses = Course.objects.bulk_create(
        [Course(title=f"Course {i}", slug=f"course-{i}") for i in range((n_cohorts + 1) // 2)]
    )
    contents = {}  # course id -> [LearningContent] in order
    rows = []
    for course in courses:
        for position in range(n_items):
            rows.append(
                LearningContent(
                    course=course,
                    title=f"Lesson {position + 1}",
                    slug=f"lesson-{position + 1}",
                    position=position,
                    required=position % 10 != 4,  # two in ten optional
                )
            )
    for content in LearningContent.objects.bulk_create(rows):
        contents.setdefault(content.course_id, []).append(content)

    cohorts = []
    for i in range(n_cohorts):
        course = courses[i // 2]
        pacing = Pacing.INSTRUCTOR if i % 2 == 0 else Pacing.SELF
        starts_at = (
            now - timedelta(days=rng.randint(7, 140)) if pacing == Pacing.INSTRUCTOR else now - 22 * week
        )
        cohorts.append(
            Cohort(
                course=course,
                name=f"Run {i}",
                slug=f"run-{i}",
                pacing=pacing,
                starts_at=starts_at,
                ends_at=now + 52 * week,
            )
        )
    cohorts = Cohort.objects.bulk_create(cohorts)
    items = []
    for cohort in cohorts:
        for n, content in enumerate(contents[cohort.course_id], start=1):
            if cohort.pacing == Pacing.SELF:
                items.append(ScheduleItem(cohort=cohort, content=content, due_offset=n * week))
            else:
                items.append(ScheduleItem(cohort=cohort, content=content, due_at=cohort.starts_at + n * week))
    ScheduleItem.objects.bulk_create(items)

    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"learner{i}", password="!") for i in range(n_enrollments)], batch_size=batch
    )

    # Decide each learner's situation first, then write enrollments, progress and exceptions in bulk.
    plans = []
    enrollments = []
    for i, user in enumerate(users):
        cohort = cohorts[i % n_cohorts]
        ordered = contents[cohort.course_id]
        if cohort.pacing == Pacing.SELF:
            started_at = now - timedelta(days=rng.uniform(0, 147))
            shift = timedelta(days=rng.randint(3, 14)) if rng.random() < 0.05 else timedelta(0)
            anchor = started_at + shift
            n_due = sum(1 for n in range(1, n_items + 1) if anchor + n * week < now)
        else:
            started_at = cohort.starts_at
            shift = timedelta(0)
            n_due = sum(1 for n in range(1, n_items + 1) if cohort.starts_at + n * week < now)
        roll = rng.random()
        if roll < 0.10:
            kind, n_done = "finished", n_items
        elif roll < 0.25 and n_due > 0:
            kind, n_done = "behind", max(n_due - rng.randint(1, 3), 0)
        else:
            kind, n_done = "on_track", min(n_due + rng.randint(0, 2), n_items)
        dropped = rng.random() < 0.03
        if dropped:
            status = EnrollmentStatus.DROPPED
        elif kind == "finished":
            status = EnrollmentStatus.COMPLETED if rng.random() < 0.7 else EnrollmentStatus.ACTIVE
        elif kind == "behind":
            status = EnrollmentStatus.DELAYED if rng.random() < 0.5 else EnrollmentStatus.ACTIVE
        else:
            status = EnrollmentStatus.DELAYED if rng.random() < 0.02 else EnrollmentStatus.ACTIVE
        enrollments.append(
            Enrollment(
                user=user,
                cohort=cohort,
                started_at=started_at,
                date_shift=shift,
                shift_count=1 if shift else 0,
                status=status,
                status_changed_at=now - timedelta(hours=1),
            )
        )
        plans.append((ordered, n_done, kind, n_due))
    enrollments = Enrollment.objects.bulk_create(enrollments, batch_size=batch)

    progress, exceptions = [], []
    n_progress = 0
    for enrollment, (ordered, n_done, kind, n_due) in zip(enrollments, plans, strict=True):
        for content in ordered[:n_done]:
            if not content.required and kind != "finished" and rng.random() < 0.5:
                continue  # optional contents are often skipped
            done_at = now - timedelta(days=rng.uniform(0, 7))
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
        if n_done < len(ordered) and rng.random() < 0.6:  # working on the next content
            progress.append(
                Progress(
                    enrollment_id=enrollment.pk,
                    content_id=ordered[n_done].pk,
                    state=ProgressState.IN_PROGRESS,
                    percent=rng.randint(5, 95),
                    first_activity_at=now - timedelta(days=1),
                    last_activity_at=now - timedelta(hours=2),
                )
            )
        if kind == "behind" and n_done < n_due and rng.random() < 0.1:
            # staff gave this learner more time on the first content they are missing
            exceptions.append(
                DeadlineException(
                    enrollment_id=enrollment.pk, content_id=ordered[n_done].pk, due_at=now + week
                )
            )
        elif kind == "on_track" and n_done < len(ordered) and rng.random() < 0.01:
            # an exception that moved a future content *earlier* (a make-up date already passed)
            exceptions.append(
                DeadlineException(
                    enrollment_id=enrollment.pk, content_id=ordered[-1].pk, due_at=now - timedelta(days=1)
                )
            )
        if len(progress) >= 50_000:
            Progress.objects.bulk_create(progress, batch_size=batch)
            n_progress += len(progress)
            progress = []
    Progress.objects.bulk_create(progress, batch_size=batch)
    n_progress += len(progress)
    DeadlineException.objects.bulk_create(exceptions, batch_size=batch)
    return {
        "courses": len(courses),
        "cohorts": len(cohorts),
        "schedule_items": len(items),
        "enrollments": len(enrollments),
        "progress_rows": n_progress,
        "exceptions": len(exceptions),
    }


def analyze() -> None:
    """Fresh planner statistics, as a production database would have after a bulk load: autovacuum vacuums and
    analyzes the new rows on PostgreSQL (which also lets index-only scans skip the table); ``ANALYZE`` on SQLite."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def timed_sweep(now=None):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from lms_core.deadlines import sweep_enrollments

    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        result = sweep_enrollments(now=now)
        elapsed = time.perf_counter() - started
    return result, elapsed, captured.captured_queries


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enrollments", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20, help="schedule items (= contents) per cohort")
    parser.add_argument("--cohorts", type=int, default=50)
    parser.add_argument("--database-url", help="e.g. postgres://postgres@127.0.0.1:54329/postgres")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument(
        "--repeat", type=int, default=1, help="time the first sweep this many times (fresh data)"
    )
    parser.add_argument("--show-sql", action="store_true", help="print each query of the first sweep in full")
    parser.add_argument(
        "--keep", metavar="PATH", help="SQLite only: copy the populated database (before sweeping) to PATH"
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    with tempfile.TemporaryDirectory(prefix="groundup-bench-") as tmpdir:
        database = configure(args.database_url, tmpdir)
        from django.db import connection

        old_name = connection.settings_dict["NAME"]
        runs = []
        for run in range(args.repeat):
            create_database()
            try:
                started = time.perf_counter()
                made = populate(args.enrollments, args.items, args.cohorts, args.seed + run)
                analyze()
                setup_seconds = time.perf_counter() - started
                if args.keep and database == "sqlite3":
                    shutil.copyfile(connection.settings_dict["NAME"], args.keep)
                first, seconds, queries = timed_sweep()
                # At the same moment: a later one may rightly find a self-paced item that fell due meanwhile.
                second, second_seconds, second_queries = timed_sweep(now=first.at)
            finally:
                destroy_database(old_name)
            runs.append(
                (made, setup_seconds, first, seconds, queries, second, second_seconds, second_queries)
            )

    made, setup_seconds, first, seconds, queries, second, second_seconds, second_queries = min(
        runs, key=lambda r: r[3]
    )
    err = sys.stderr
    print(f"\ncore_deadlines on {database}: {made}", file=err)
    print(f"setup (not timed): {setup_seconds:.1f} s", file=err)
    if args.show_sql:
        for q in queries:
            print(f"  {float(q['time']):7.3f} s  {q['sql']}", file=err)
    print(
        f"{'sweep':<14}{'seconds':>9}{'queries':>9}{'delayed':>9}{'caught up':>11}{'completed':>11}", file=err
    )
    for label, result, secs, qs in (
        ("first", first, seconds, queries),
        ("second", second, second_seconds, second_queries),
    ):
        print(
            f"{label:<14}{secs:>9.3f}{len(qs):>9}{len(result.delayed):>9}{len(result.caught_up):>11}"
            f"{len(result.completed):>11}",
            file=err,
        )
    if args.repeat > 1:
        print("all first sweeps: " + ", ".join(f"{r[3]:.3f}" for r in runs) + " s", file=err)
    if not args.show_sql:
        for q in queries:
            print(f"  {float(q['time']):7.3f} s  {q['sql'][:100]}…", file=err)
    report = {
        "benchmark": "core_deadlines",
        "database": database,
        "enrollments": made["enrollments"],
        "items_per_cohort": args.items,
        "cohorts": made["cohorts"],
        "progress_rows": made["progress_rows"],
        "seconds": round(seconds, 3),
        "second_sweep_seconds": round(second_seconds, 3),
        "all_seconds": [round(r[3], 3) for r in runs],
        "queries": len(queries),
        "second_sweep_queries": len(second_queries),
        "changed": {
            "delayed": len(first.delayed),
            "caught_up": len(first.caught_up),
            "completed": len(first.completed),
            "second_sweep": second.changed,
        },
        "setup_seconds": round(setup_seconds, 1),
        "target_seconds": TARGET_SECONDS,
        "meets_target": max(seconds, second_seconds) <= TARGET_SECONDS and second.changed == 0,
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
