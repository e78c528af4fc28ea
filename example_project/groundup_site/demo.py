"""Demo data for the example project: each loader is idempotent and returns lines to print."""

from django.contrib.auth import get_user_model
from django.db import transaction

#: (username, password, first name, last name, is_staff, is_superuser, role)
DEMO_USERS = [
    ("admin", "groundup-admin", "Admin", "", True, True, "administrator"),
    ("instructor", "groundup-instructor", "지은", "김", True, False, "instructor"),
    ("learner", "groundup-learner", "Minjun", "Lee", False, False, "learner"),
]


@transaction.atomic
def load_users():
    """Create (or reset) the demo users and say how to sign in as each."""
    User = get_user_model()
    lines = []
    for username, password, first, last, is_staff, is_superuser, role in DEMO_USERS:
        user, created = User.objects.get_or_create(username=username)
        user.first_name, user.last_name = first, last
        user.email = f"{username}@example.com"
        user.is_staff, user.is_superuser, user.is_active = is_staff, is_superuser, True
        user.set_password(password)
        user.save()
        state = "created" if created else "reset"
        lines.append(f"  {role:<13} username {username!r:<14} password {password!r}  ({state})")
    return lines


#: (title, kind, required, estimated minutes, slug: the lesson page that teaches it has the same slug)
DEMO_CONTENTS = [
    ("넘파이 기초 · NumPy basics", "lesson", True, 40, "넘파이-기초"),
    ("Matplotlib으로 그래프 그리기 · Plotting with Matplotlib", "lesson", True, 30, "matplotlib-그래프"),
    ("넘파이로 만드는 작은 신경망 · A tiny neural network in NumPy", "lesson", True, 60, "작은-신경망"),
    ("연습 문제: 행렬 곱 · Exercise: matrix multiplication", "exercise", True, 20, "행렬-곱-연습"),
    ("더 읽을거리 · Further reading", "reading", False, 15, "더-읽을거리"),
]


@transaction.atomic
def load_core():
    """A bilingual demo course with an instructor-paced and a self-paced cohort; the learner is behind in one."""
    from datetime import timedelta

    from django.utils import timezone

    from lms_core.deadlines import sweep_enrollments
    from lms_core.models import Cohort, Course, Enrollment, LearningContent, Pacing, Progress, ScheduleItem
    from lms_core.services import record_progress

    User = get_user_model()
    now = timezone.now()
    course, _ = Course.objects.get_or_create(
        slug="ai-기초",
        defaults={
            "title": "AI 기초 · Deep learning from the ground up",
            "description": "NumPy, plotting and a first neural network, run in your browser.",
        },
    )
    course.instructors.add(User.objects.get(username="instructor"))
    contents = []
    for position, (title, kind, required, minutes, slug) in enumerate(DEMO_CONTENTS):
        content, _ = LearningContent.objects.update_or_create(
            course=course,
            position=position,
            defaults={
                "title": title,
                "kind": kind,
                "required": required,
                "estimated_minutes": minutes,
                "slug": slug,
            },
        )
        contents.append(content)

    fixed, _ = Cohort.objects.get_or_create(
        course=course,
        slug="2026-가을",
        defaults={
            "name": "2026 가을 · Autumn 2026",
            "pacing": Pacing.INSTRUCTOR,
            "starts_at": now - timedelta(days=21),
            "ends_at": now + timedelta(days=60),
        },
    )
    self_paced, _ = Cohort.objects.get_or_create(
        course=course,
        slug="self-paced",
        defaults={
            "name": "자기 주도 · Self-paced",
            "pacing": Pacing.SELF,
            "starts_at": now - timedelta(days=60),
            "ends_at": now + timedelta(days=365),
        },
    )
    for i, content in enumerate(contents, start=1):
        ScheduleItem.objects.get_or_create(
            cohort=fixed, content=content, defaults={"due_at": fixed.starts_at + timedelta(days=7 * i)}
        )
        ScheduleItem.objects.get_or_create(
            cohort=self_paced, content=content, defaults={"due_offset": timedelta(days=7 * i)}
        )

    learner = User.objects.get(username="learner")
    enrollment, _ = Enrollment.objects.get_or_create(
        user=learner, cohort=fixed, defaults={"started_at": fixed.starts_at}
    )
    if not Progress.objects.filter(enrollment=enrollment).exists():
        record_progress(learner, contents[0], completed=True, enrollment=enrollment)
        record_progress(learner, contents[1], percent=40, enrollment=enrollment)
    sweep_enrollments(enrollment_ids=[enrollment.pk])
    enrollment.refresh_from_db()
    return [
        f"  course {course.title!r}: {len(contents)} contents, cohorts {fixed.name!r} and {self_paced.name!r}",
        f"  learner is enrolled in {fixed.name!r}: status {enrollment.get_status_display()!r}",
    ]


@transaction.atomic
def load_surveys():
    """A short survey after the first two demo lessons; the learner, who completed the first, is invited to it."""
    from datetime import date

    from survey.models import Question, Survey

    from lms_core.models import LearningContent, Progress, ProgressState
    from lms_surveys.models import ContentSurvey, QuestionOptions, SurveyInvitation

    questions = [
        (
            "이 강의는 얼마나 유익했나요? · How useful was this lesson? (1-5)",
            Question.INTEGER,
            True,
            "",
            (1, 5),
        ),
        (
            "진도 속도 · The pace was",
            Question.RADIO,
            True,
            "너무 느림 · Too slow|적당함 · Right|너무 빠름 · Too fast",
            None,
        ),
        (
            "도움이 된 것 · What helped?",
            Question.SELECT_MULTIPLE,
            False,
            "설명 · Explanations|코드 셀 · Code cells|연습 · Exercises",
            None,
        ),
        ("개선할 점 · What should we improve?", Question.TEXT, False, "", None),
    ]
    lines = []
    for content in LearningContent.objects.filter(course__slug="ai-기초").order_by("position")[:2]:
        target = ContentSurvey.objects.filter(scope="content", key=str(content.pk)).first()
        if target is None:
            survey = Survey.objects.create(
                name=f"{content.title} — 설문 · Survey",
                description="2분이면 됩니다. · Two minutes, to make this lesson better.",
                need_logged_user=True,
                editable_answers=True,
                expire_date=date(2099, 12, 31),  # open for as long as the demo runs
            )
            for order, (text, kind, required, choices, scale) in enumerate(questions):
                question = Question.objects.create(
                    survey=survey,
                    text=text,
                    type=kind,
                    required=required,
                    order=order,
                    choices=choices or None,
                )
                if scale:
                    QuestionOptions.objects.create(
                        question=question, is_scale=True, minimum=scale[0], maximum=scale[1]
                    )
            target = ContentSurvey(survey=survey, scope="content", key=str(content.pk))
            target.full_clean()
            target.save()
        completed = Progress.objects.filter(content=content, state=ProgressState.COMPLETED).select_related(
            "enrollment"
        )
        for progress in completed:
            SurveyInvitation.objects.get_or_create(
                target=target,
                user_id=progress.enrollment.user_id,
                defaults={"cohort_key": str(progress.enrollment.cohort_id)},
            )
        lines.append(
            f"  survey {target.survey.name!r} after {content.title!r} (/surveys/{target.survey_id}/)"
        )
    return lines


#: The demo lesson: every kind of block, Korean and English, a runnable cell and an exercise.
DEMO_LESSON_SLUG = "넘파이-기초"


@transaction.atomic
def load_lessons():
    """A bilingual demo lesson under the site's root page (at /lessons/넘파이-기초/), published."""
    import uuid
    from urllib.parse import unquote

    from wagtail.models import Site

    from .models import LessonPage

    body = [
        {"type": "heading", "value": {"text": "넘파이 배열 · NumPy arrays", "level": "2"}},
        {
            "type": "markdown",
            "value": "행렬 곱은 $C_{ij} = \\sum_k A_{ik} B_{kj}$ 입니다. "
            "Matrix multiplication sums products of rows and columns:\n\n$$C = AB$$",
        },
        {
            "type": "callout",
            "value": {
                "kind": "tip",
                "title": "",
                "body": "<p>셀을 실행하려면 Shift+Enter · Run a cell with Shift+Enter.</p>",
            },
        },
        {
            "type": "jupyter",
            "value": {
                "source": "a = [[1, 2], [3, 4]]\nb = [[5, 6], [7, 8]]\nprint(a, b)",
                "environment": "python3",
                "setup_code": "",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "[[1, 2], [3, 4]] [[5, 6], [7, 8]]\n"}
                ],
                "check_code": "",
            },
        },
        {"type": "heading", "value": {"text": "연습 문제 · Exercise", "level": "2"}},
        {
            "type": "jupyter",
            "value": {
                "source": "def matmul(a, b):\n    # 여기에 코드를 쓰세요 · your code here\n    ...",
                "environment": "python3",
                "setup_code": "",
                "outputs": [],
                "check_code": "assert matmul([[1, 2], [3, 4]], [[5, 6], [7, 8]]) == [[19, 22], [43, 50]]",
            },
        },
        {
            "type": "code",
            "value": {
                "language": "python",
                "code": "import numpy as np\nnp.array([[1, 2], [3, 4]]) @ np.eye(2)",
                "caption": "NumPy",
            },
        },
        {"type": "quote", "value": {"quote": "배움에는 끝이 없다.", "attribution": "속담 · proverb"}},
    ]
    for block in body:
        block["id"] = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"groundup-demo:{block['type']}:{body.index(block)}")
        )
    root = Site.objects.get(is_default_site=True).root_page
    lesson = LessonPage.objects.filter(slug=DEMO_LESSON_SLUG).first()
    created = lesson is None
    if created:
        lesson = LessonPage(title="넘파이 기초 · NumPy basics", slug=DEMO_LESSON_SLUG)
        lesson.intro = (
            "배열과 행렬 곱을 브라우저에서 실행해 봅니다. Arrays and matrix products, run in your browser."
        )
        lesson.body = body
        root.add_child(instance=lesson)
    else:
        lesson.body = body
    lesson.save_revision().publish()
    state = "created" if created else "updated"
    url = unquote(lesson.url or "")
    return [
        f"  lesson {lesson.title!r} at {url} ({state}); API: /api/v2/pages/?slug={DEMO_LESSON_SLUG}&fields=*"
    ]
