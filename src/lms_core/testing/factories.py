"""Small factory functions for lms_core's models (plain Django, no extra dependency).

Every argument has a sensible default, so ``make_enrollment()`` alone builds a learner, a course with three
required contents, a cohort that started a week ago with a fixed schedule, and the enrollment.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from ..models import Cohort, Course, Enrollment, LearningContent, Pacing, ScheduleItem

__all__ = ["make_cohort", "make_content", "make_course", "make_enrollment", "make_user"]

_counter = itertools.count(1)


def make_user(username: str | None = None, *, password: str = "pw-test-1234", **fields):  # noqa: S107
    username = username or f"user{next(_counter)}"
    return get_user_model().objects.create_user(username=username, password=password, **fields)


def make_course(title: str | None = None, *, contents: int = 0, **fields) -> Course:
    course = Course.objects.create(title=title or f"Course {next(_counter)}", **fields)
    for position in range(contents):
        make_content(course, title=f"Lesson {position + 1}", position=position)
    return course


def make_content(course: Course, *, title: str | None = None, **fields) -> LearningContent:
    fields.setdefault("position", course.contents.count())
    return LearningContent.objects.create(course=course, title=title or f"Content {next(_counter)}", **fields)


def make_cohort(
    course: Course | None = None,
    *,
    pacing: str = Pacing.INSTRUCTOR,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    schedule_every: timedelta | None = timedelta(days=7),
    **fields,
) -> Cohort:
    """A cohort of ``course`` (made with 3 contents when absent), with one schedule item per content.

    Item *i* (1-based) is due ``i * schedule_every`` after the cohort's start: a fixed date in instructor-paced
    cohorts, an offset in self-paced ones. ``schedule_every=None`` makes no schedule.
    """
    course = course or make_course(contents=3)
    starts_at = starts_at or timezone.now() - timedelta(days=7)
    ends_at = ends_at or starts_at + timedelta(days=90)
    cohort = Cohort.objects.create(
        course=course,
        name=fields.pop("name", f"Run {next(_counter)}"),
        starts_at=starts_at,
        ends_at=ends_at,
        pacing=pacing,
        **fields,
    )
    if schedule_every is not None:
        items = []
        for i, content in enumerate(course.contents.order_by("position", "pk"), start=1):
            if pacing == Pacing.SELF:
                items.append(ScheduleItem(cohort=cohort, content=content, due_offset=i * schedule_every))
            else:
                items.append(
                    ScheduleItem(cohort=cohort, content=content, due_at=starts_at + i * schedule_every)
                )
        ScheduleItem.objects.bulk_create(items)
    return cohort


def make_enrollment(user=None, cohort: Cohort | None = None, **fields) -> Enrollment:
    cohort = cohort or make_cohort()
    user = user or make_user()
    fields.setdefault("started_at", cohort.starts_at)
    return Enrollment.objects.create(user=user, cohort=cohort, **fields)
