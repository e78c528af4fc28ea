"""lms_core's models: slugs from Korean and other non-ASCII titles, and the rules the database and ``clean()``
enforce on cohorts, schedule items, enrollments and progress."""

import unicodedata
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from lms_core.models import (
    Cohort,
    Course,
    Enrollment,
    EnrollmentStatus,
    LearningContent,
    Pacing,
    Progress,
    ProgressState,
    ScheduleItem,
)
from lms_core.testing.factories import make_cohort, make_content, make_course, make_enrollment, make_user

pytestmark = pytest.mark.django_db

NOW = timezone.now()


# -- slugs -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("넘파이 기초", "넘파이-기초"),
        ("딥러닝 입문: CNN과 RNN!", "딥러닝-입문-cnn과-rnn"),
        ("機械学習 入門", "機械学習-入門"),
        ("Глубокое обучение", "глубокое-обучение"),
        ("Ünïcödé  Straße", "ünïcödé-straße"),
        ("Deep Learning 101", "deep-learning-101"),
        ("🚀✨", "course"),  # nothing slug-worthy: a fallback rather than an empty slug
        ("   ", "course"),
    ],
)
def test_course_slug_from_any_title(title, slug):
    assert Course.objects.create(title=title).slug == slug


def test_decomposed_hangul_gives_the_same_slug_as_composed_hangul():
    """macOS file names and some IMEs produce NFD Hangul (jamo); the slug must not depend on that."""
    composed = "파이썬 기초"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    first = Course.objects.create(title=composed)
    second = Course.objects.create(title=decomposed)
    assert first.slug == "파이썬-기초"
    assert second.slug == "파이썬-기초-2"  # the same slug, hence the suffix


def test_slugs_are_unique_with_a_numbered_suffix_and_kept_once_set():
    slugs = [Course.objects.create(title="신경망").slug for _ in range(3)]
    assert slugs == ["신경망", "신경망-2", "신경망-3"]
    course = Course.objects.get(slug="신경망")
    course.title = "신경망 심화"
    course.save()
    assert Course.objects.get(pk=course.pk).slug == "신경망"  # a renamed course keeps its URL
    assert Course.objects.create(title="Own", slug="my-own-slug").slug == "my-own-slug"


def test_long_titles_are_cut_to_the_field_length_suffix_included():
    title = "가" * 200
    first = Course.objects.create(title=title)
    second = Course.objects.create(title=title)
    assert first.slug == "가" * 80
    assert second.slug == "가" * 78 + "-2"
    assert len(second.slug) == Course._meta.get_field("slug").max_length


def test_content_and_cohort_slugs_are_unique_per_course_only():
    course, other = make_course("A"), make_course("B")
    first = make_content(course, title="합성곱 신경망")
    assert first.slug == "합성곱-신경망"
    assert make_content(course, title="합성곱 신경망").slug == "합성곱-신경망-2"
    assert make_content(other, title="합성곱 신경망").slug == "합성곱-신경망"
    spring = make_cohort(course, name="2026 봄학기", schedule_every=None)
    assert spring.slug == "2026-봄학기"
    assert make_cohort(other, name="2026 봄학기", schedule_every=None).slug == "2026-봄학기"
    assert make_cohort(course, name="2026 봄학기", schedule_every=None).slug == "2026-봄학기-2"
    with pytest.raises(IntegrityError), transaction.atomic():
        LearningContent.objects.create(course=course, title="x", slug="합성곱-신경망")


def test_contents_are_ordered_by_position_with_kind_required_and_minutes():
    course = make_course()
    later = make_content(course, title="Later", position=2, kind=LearningContent.Kind.QUIZ, required=False)
    first = make_content(course, title="First", position=1, estimated_minutes=45)
    assert list(course.contents.all()) == [first, later]
    assert (first.kind, first.required, first.estimated_minutes) == ("lesson", True, 45)
    assert (later.kind, later.required) == ("quiz", False)


# -- cohorts and schedules -----------------------------------------------------------------------------------------


def test_a_cohort_cannot_end_before_it_starts():
    course = make_course()
    cohort = Cohort(course=course, name="Backwards", starts_at=NOW, ends_at=NOW - timedelta(days=1))
    with pytest.raises(ValidationError) as excinfo:
        cohort.full_clean()
    assert excinfo.value.message_dict["ends_at"] == ["A cohort cannot end before it starts."]
    with pytest.raises(IntegrityError), transaction.atomic():
        cohort.save()
    assert not Cohort.objects.exists()


def item_errors(item):
    with pytest.raises(ValidationError) as excinfo:
        item.full_clean()
    return excinfo.value.message_dict


def test_schedule_item_rules():
    fixed = make_cohort(starts_at=NOW, schedule_every=None)
    relative = make_cohort(make_course(contents=1), pacing=Pacing.SELF, schedule_every=None)
    content = make_content(fixed.course)
    foreign = make_content(make_course())

    assert item_errors(ScheduleItem(cohort=fixed, content=content, due_at=NOW - timedelta(days=1))) == {
        "due_at": ["The due date is before the cohort starts."]
    }
    assert item_errors(ScheduleItem(cohort=fixed, content=content, due_offset=timedelta(days=1))) == {
        "due_offset": ["Instructor-paced cohorts use fixed due dates."]
    }
    assert item_errors(ScheduleItem(cohort=relative, content=relative.course.contents.get(), due_at=NOW)) == {
        "due_at": ["Self-paced cohorts use offsets from each learner's start."]
    }
    assert item_errors(
        ScheduleItem(cohort=relative, content=relative.course.contents.get(), due_offset=timedelta(days=-1))
    ) == {"due_offset": ["The offset cannot be negative."]}
    assert "content" in item_errors(ScheduleItem(cohort=fixed, content=foreign, due_at=NOW))
    assert "__all__" in item_errors(ScheduleItem(cohort=fixed, content=content))
    both = ScheduleItem(cohort=fixed, content=content, due_at=NOW, due_offset=timedelta(days=1))
    assert "__all__" in item_errors(both)
    # The database refuses "both" and "neither" too, whatever skipped clean().
    for broken in (both, ScheduleItem(cohort=fixed, content=content)):
        with pytest.raises(IntegrityError), transaction.atomic():
            broken.save()
    ScheduleItem(cohort=fixed, content=content, due_at=NOW + timedelta(days=7)).full_clean()
    assert not ScheduleItem.objects.exists()


def test_one_schedule_item_per_content_and_cohort():
    cohort = make_cohort(make_course(contents=1))
    with pytest.raises(IntegrityError), transaction.atomic():
        ScheduleItem.objects.create(cohort=cohort, content=cohort.course.contents.get(), due_at=NOW)


# -- enrollments and progress --------------------------------------------------------------------------------------


def test_an_enrollment_starts_active_now_and_is_unique_per_learner_and_cohort():
    user, cohort = make_user(), make_cohort()
    before = timezone.now()
    enrollment = Enrollment.objects.create(user=user, cohort=cohort)
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert before <= enrollment.started_at <= timezone.now()
    assert enrollment.schedule_anchor == enrollment.started_at
    enrollment.date_shift = timedelta(days=3)
    assert enrollment.schedule_anchor == enrollment.started_at + timedelta(days=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.create(user=user, cohort=cohort)
    assert set(EnrollmentStatus.values) == {"active", "delayed", "completed", "dropped"}


def test_progress_is_one_row_per_enrollment_and_content_within_0_to_100():
    enrollment = make_enrollment()
    content = enrollment.cohort.course.contents.first()
    progress = Progress.objects.create(enrollment=enrollment, content=content)
    assert (progress.state, progress.percent) == (ProgressState.NOT_STARTED, 0)
    assert progress.first_activity_at is progress.last_activity_at is progress.completed_at is None
    with pytest.raises(IntegrityError), transaction.atomic():
        Progress.objects.create(enrollment=enrollment, content=content)
    with pytest.raises(IntegrityError), transaction.atomic():
        Progress.objects.filter(pk=progress.pk).update(percent=101)
    progress.percent = 101
    with pytest.raises(ValidationError):
        progress.full_clean()
    assert Progress.objects.get(pk=progress.pk).percent == 0
