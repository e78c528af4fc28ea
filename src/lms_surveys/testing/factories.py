"""Small factory functions for surveys (plain Django, no extra dependency).

``make_survey()`` builds a published, open survey with one question of every type the package supports;
``attach()`` links it to a learning content or course (a real lms_core object, or a plain key).
"""

from __future__ import annotations

import itertools

from django.conf import settings
from survey.models import Question, Survey

from ..models import ContentSurvey, QuestionOptions, Scope

__all__ = ["QUESTIONS", "attach", "make_question", "make_survey"]

_counter = itertools.count(1)

#: (key, type, text, required, choices, options) of the questions ``make_survey()`` builds by default.
QUESTIONS = [
    (
        "rating",
        Question.INTEGER,
        "How useful was this lesson? (1-5)",
        True,
        None,
        {"is_scale": True, "minimum": 1, "maximum": 5},
    ),
    ("pace", Question.RADIO, "The pace was", True, ["Too slow", "Right", "Too fast"], {}),
    (
        "clarity",
        Question.SELECT,
        "How clear was it?",
        False,
        ["Poor", "Fair", "Good", "Excellent"],
        {"is_scale": True},
    ),
    (
        "topics",
        Question.SELECT_MULTIPLE,
        "Which parts helped?",
        False,
        ["Video", "Code cells", "Exercises"],
        {},
    ),
    ("hours", Question.FLOAT, "Hours spent", False, None, {"minimum": 0, "maximum": 40}),
    ("date", Question.DATE, "When did you finish?", False, None, {}),
    ("comment", Question.TEXT, "What should we improve?", False, None, {}),
    ("oneword", Question.SHORT_TEXT, "One word for this lesson", False, None, {}),
]


def make_question(
    survey: Survey, type: str, text: str, *, required=False, choices=None, order=None, **options
):
    question = Question.objects.create(
        survey=survey,
        type=type,
        text=text,
        required=required,
        order=order if order is not None else survey.questions.count(),
        choices=settings.CHOICES_SEPARATOR.join(choices) if choices else None,
        maximum_choices=options.pop("maximum_choices", None),
    )
    if options:
        QuestionOptions.objects.create(question=question, **options)
    return question


def make_survey(name: str | None = None, *, questions=QUESTIONS, **fields) -> Survey:
    """A survey; ``survey.q`` maps each question's key (see :data:`QUESTIONS`) to the question."""
    fields.setdefault("description", "")
    fields.setdefault("need_logged_user", True)
    fields.setdefault("editable_answers", True)
    survey = Survey.objects.create(name=name or f"Survey {next(_counter)}", **fields)
    survey.q = {}
    for order, (key, type, text, required, choices, options) in enumerate(questions):
        survey.q[key] = make_question(
            survey, type, text, required=required, choices=choices, order=order, **options
        )
    return survey


def attach(
    survey: Survey,
    target=None,
    *,
    scope: str = Scope.CONTENT,
    key: str = "",
    course_key: str = "",
    title: str = "",
):
    """Attach ``survey`` to ``target`` (an lms_core LearningContent or Course) or to a plain ``key``."""
    if target is not None:
        scope = Scope.COURSE if target._meta.model_name == "course" else Scope.CONTENT
        key = str(target.pk)
    attachment = ContentSurvey(survey=survey, scope=scope, key=key, course_key=course_key, title=title)
    attachment.full_clean()
    attachment.save()
    return attachment
