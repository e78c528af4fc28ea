"""Aggregates for staff: one survey (a content's or a course's), and a whole course.

Each report runs a fixed number of queries whatever the number of questions, responses or surveys (a test
holds it to that). Response rates count responses from learners with a current enrollment in the course (or the
cohort asked for) against those learners; they need lms_core and are ``None`` without it.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from survey.models import Question

from .conf import app_settings
from .models import ContentSurvey, QuestionOptions, Scope, SurveyAnswer, SurveyResponse
from .models.answers import CHOICE_TYPES, NUMERIC_TYPES
from .models.targets import core_installed
from .services import parse_body

__all__ = ["course_report", "enrolled_learners", "target_report"]

TEXT_TYPES = (Question.TEXT, Question.SHORT_TEXT)
MULTIPLE = Question.SELECT_MULTIPLE
#: Integer scales with a range up to this wide list every value, answered or not (charts keep their axis).
FULL_RANGE_LIMIT = 20


def enrolled_learners(course_key: str, cohort_key: str | None = None) -> QuerySet | None:
    """Ids of the learners with a current enrollment in the course (or cohort); ``None`` without lms_core."""
    if not core_installed():
        return None
    from lms_core.models import Enrollment, EnrollmentStatus

    try:
        enrollments = Enrollment.objects.filter(cohort__course_id=int(course_key))
        if cohort_key:
            enrollments = enrollments.filter(cohort_id=int(cohort_key))
    except ValueError:
        return Enrollment.objects.none().values("user_id")
    return enrollments.exclude(status=EnrollmentStatus.DROPPED).values("user_id").distinct()


def _rate(part: int, whole: int | None) -> float | None:
    if not whole:
        return None
    return round(part / whole, 4)


def _response_counts(responses: QuerySet, enrolled: QuerySet | None, group_by: str | None = None):
    from_enrolled = Count("pk", filter=Q(learner_id__in=enrolled)) if enrolled is not None else None
    aggregates = {"responses": Count("pk")}
    if from_enrolled is not None:
        aggregates["from_enrolled"] = from_enrolled
    if group_by is None:
        return responses.aggregate(**aggregates)
    return {row[group_by]: row for row in responses.order_by().values(group_by).annotate(**aggregates)}


def _options(question: Question) -> QuestionOptions:
    try:
        return question.lms_options
    except QuestionOptions.DoesNotExist:
        return QuestionOptions(question=question)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _rating_summary(question: Question, options: QuestionOptions, counts: dict[float, int]) -> dict:
    labels = {}
    if question.type in CHOICE_TYPES:
        for position, (_slug, label) in enumerate(question.get_choices(), start=1):
            labels[float(position)] = label
            counts.setdefault(float(position), 0)
    elif (
        question.type == Question.INTEGER
        and options.minimum is not None
        and options.maximum is not None
        and options.maximum - options.minimum <= FULL_RANGE_LIMIT
    ):
        for value in range(int(options.minimum), int(options.maximum) + 1):
            counts.setdefault(float(value), 0)
    total = sum(counts.values())
    average = sum(value * n for value, n in counts.items()) / total if total else None
    return {
        "count": total,
        "average": round(average, 4) if average is not None else None,
        "distribution": [
            {"value": _number(value), "label": labels.get(value, str(_number(value))), "count": counts[value]}
            for value in sorted(counts)
        ],
    }


def _question_report(question, options, rating_counts, body_counts, texts) -> dict:
    answered = sum(body_counts.values())
    report = {
        "id": question.pk,
        "text": question.text,
        "type": question.type,
        "required": question.required,
        "is_scale": options.is_scale,
        "answered": answered,
        "rating": None,
        "choices": None,
        "numbers": None,
        "values": None,
        "text_answers": None,
    }
    if options.is_scale:
        report["rating"] = _rating_summary(question, options, dict(rating_counts))
    if question.type in (*CHOICE_TYPES, MULTIPLE):
        chosen = Counter()
        for body, n in body_counts.items():
            for value in parse_body(question, body) if question.type == MULTIPLE else [body]:
                chosen[value] += n
        known = question.get_choices()
        report["choices"] = [
            {"value": slug, "label": label, "count": chosen.pop(slug, 0)} for slug, label in known
        ]
        # Answers to choices that were renamed or removed since: still counted, under their stored value.
        report["choices"] += [{"value": v, "label": v, "count": n} for v, n in sorted(chosen.items())]
    elif question.type in NUMERIC_TYPES:
        numbers = Counter()
        for body, n in body_counts.items():
            value = parse_body(question, body)
            if isinstance(value, int | float):
                numbers[value] += n
        total = sum(numbers.values())
        report["numbers"] = {
            "count": total,
            "average": round(sum(v * n for v, n in numbers.items()) / total, 4) if total else None,
            "minimum": min(numbers) if numbers else None,
            "maximum": max(numbers) if numbers else None,
        }
    elif question.type in TEXT_TYPES:
        report["text_answers"] = texts
    else:  # dates
        report["values"] = [{"value": body, "count": n} for body, n in sorted(body_counts.items())]
    return report


def _answers_of(responses: QuerySet) -> QuerySet:
    return SurveyAnswer.objects.filter(response_id__in=responses.values("pk"))


def _latest_texts(answers: QuerySet, limit: int, partition: str = "question_id") -> QuerySet:
    return (
        answers.filter(question__type__in=TEXT_TYPES)
        .exclude(body="")
        .annotate(row=Window(RowNumber(), partition_by=[F(partition)], order_by=[F("pk").desc()]))
        .filter(row__lte=limit)
        .order_by("-pk")
    )


def target_report(target: ContentSurvey, *, cohort_key: str | None = None) -> dict:
    """Response count and rate, then per question: rating average and distribution, choice counts, numbers,
    free-text answers (the newest ``REPORT_TEXT_ANSWERS_LIMIT``)."""
    survey = target.survey
    questions = list(survey.questions.select_related("lms_options").order_by("order", "id"))
    responses = SurveyResponse.objects.filter(target=target)
    if cohort_key:
        responses = responses.filter(cohort_key=cohort_key)
    enrolled_qs = enrolled_learners(target.course_key, cohort_key)
    counts = _response_counts(responses, enrolled_qs)
    enrolled = enrolled_qs.count() if enrolled_qs is not None else None
    answers = _answers_of(responses)
    ratings = defaultdict(Counter)
    for row in answers.filter(rating__isnull=False).values("question_id", "rating").annotate(n=Count("pk")):
        ratings[row["question_id"]][row["rating"]] = row["n"]
    bodies = defaultdict(Counter)
    grouped = (
        answers.exclude(question__type__in=TEXT_TYPES).values("question_id", "body").annotate(n=Count("pk"))
    )
    for row in grouped.order_by():
        bodies[row["question_id"]][row["body"]] = row["n"]
    texts = defaultdict(list)
    text_counts = Counter()
    for question_id, body in _latest_texts(answers, app_settings.REPORT_TEXT_ANSWERS_LIMIT).values_list(
        "question_id", "body"
    ):
        texts[question_id].append(body)
    for row in (
        answers.filter(question__type__in=TEXT_TYPES)
        .exclude(body="")
        .values("question_id")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        text_counts[row["question_id"]] = row["n"]
    question_reports = []
    for question in questions:
        body_counts = bodies[question.pk]
        if question.type in TEXT_TYPES:
            body_counts = Counter({"": text_counts[question.pk]})
        question_reports.append(
            _question_report(
                question, _options(question), ratings[question.pk], body_counts, texts[question.pk]
            )
        )
    return {
        "survey": {"id": survey.pk, "name": survey.name},
        "about": {
            "scope": target.scope,
            "key": target.key,
            "title": target.display_title,
            "course_key": target.course_key,
        },
        "cohort": cohort_key or None,
        "responses": counts["responses"],
        "enrolled": enrolled,
        "responses_from_enrolled": counts.get("from_enrolled"),
        "response_rate": _rate(counts.get("from_enrolled", 0), enrolled),
        "questions": question_reports,
    }


def course_report(course_key: str, *, cohort_key: str | None = None) -> dict:
    """Every survey of a course and of its contents: responses, rate and rating average each; the course's
    rating distribution and its newest free-text answers."""
    course_key = str(course_key)
    targets = list(ContentSurvey.objects.of_course(course_key).select_related("survey"))
    responses = SurveyResponse.objects.filter(target__in=[t.pk for t in targets])
    if cohort_key:
        responses = responses.filter(cohort_key=cohort_key)
    enrolled_qs = enrolled_learners(course_key, cohort_key)
    enrolled = enrolled_qs.count() if enrolled_qs is not None else None
    per_target = _response_counts(responses, enrolled_qs, group_by="target_id")
    answers = SurveyAnswer.objects.filter(response_id__in=responses.values("pk"))
    rated = answers.filter(rating__isnull=False)
    rating_by_target = defaultdict(Counter)
    for row in (
        rated.values("response__surveyresponse__target_id", "rating").annotate(n=Count("pk")).order_by()
    ):
        rating_by_target[row["response__surveyresponse__target_id"]][row["rating"]] = row["n"]
    overall = Counter()
    rows = []
    for target in targets:
        counts = per_target.get(target.pk, {"responses": 0, "from_enrolled": 0})
        ratings = rating_by_target[target.pk]
        overall.update(ratings)
        total = sum(ratings.values())
        rows.append(
            {
                "survey": target.survey_id,
                "name": target.survey.name,
                "scope": target.scope,
                "key": target.key,
                "title": target.display_title,
                "responses": counts["responses"],
                "responses_from_enrolled": counts.get("from_enrolled") if enrolled is not None else None,
                "response_rate": _rate(counts.get("from_enrolled", 0), enrolled),
                "rating_count": total,
                "rating_average": round(sum(v * n for v, n in ratings.items()) / total, 4) if total else None,
            }
        )
    titles = {t.pk: t.display_title for t in targets}
    texts = [
        {"survey": survey_id, "title": titles.get(target_id, ""), "question": text, "answer": body}
        for survey_id, target_id, text, body in _latest_texts(
            answers, app_settings.REPORT_TEXT_ANSWERS_LIMIT, partition="question__survey_id"
        ).values_list("question__survey_id", "response__surveyresponse__target_id", "question__text", "body")
    ]
    total = sum(overall.values())
    all_responses = sum(row["responses"] for row in rows)
    from_enrolled = sum(row["responses_from_enrolled"] or 0 for row in rows)
    return {
        "course_key": course_key,
        "cohort": cohort_key or None,
        "enrolled": enrolled,
        "surveys": len(rows),
        "responses": all_responses,
        # Each enrolled learner could answer every survey: the rate is against enrolled learners times surveys.
        "response_rate": _rate(from_enrolled, enrolled * len(rows) if enrolled is not None else None),
        "rating": {
            "count": total,
            "average": round(sum(v * n for v, n in overall.items()) / total, 4) if total else None,
            "distribution": [{"value": _number(value), "count": overall[value]} for value in sorted(overall)],
        },
        "targets": rows,
        "text_answers": texts,
    }


def scope_label(scope: str) -> str:
    return str(Scope(scope).label)
