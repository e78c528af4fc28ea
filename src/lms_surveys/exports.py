"""CSV exports of the reports: every response of one survey, or one row per survey of a course.

Cells that a spreadsheet would run as a formula (a learner's free text starting with ``=``, ``+``, ``-``, ``@``)
get a leading apostrophe (CSV injection, as OWASP recommends). The file starts with a BOM so spreadsheet
programs read UTF-8 (Hangul answers).
"""

from __future__ import annotations

import csv
import io

from django.db.models import Prefetch
from django.http import HttpResponse
from django.utils.text import slugify
from survey.models import Answer

from .models import ContentSurvey, SurveyResponse
from .services import parse_body

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_response(filename: str, header: list[str], rows) -> HttpResponse:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell("" if cell is None else cell) for cell in row])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _answer_text(question, body) -> str:
    labels = dict(question.get_choices())
    value = parse_body(question, body)
    if isinstance(value, list):
        return "; ".join(labels.get(item, item) for item in value)
    return labels.get(value, "" if value is None else str(value))


def responses_csv(target: ContentSurvey, *, cohort_key: str | None = None) -> HttpResponse:
    """One row per response: who, when, their cohort, enrollment status and progress, then each answer."""
    questions = list(target.survey.questions.order_by("order", "id"))
    responses = (
        SurveyResponse.objects.filter(target=target)
        .select_related("learner")
        .prefetch_related(Prefetch("answers", queryset=Answer.objects.select_related("question")))
        .order_by("created", "pk")
    )
    if cohort_key:
        responses = responses.filter(cohort_key=cohort_key)
    header = [
        "response",
        "learner",
        "submitted",
        "updated",
        "cohort",
        "enrollment_status",
        "progress_state",
        "progress_percent",
        *[question.text for question in questions],
    ]

    def rows():
        for response in responses:
            by_question = {answer.question_id: answer for answer in response.answers.all()}
            answers = []
            for question in questions:
                answer = by_question.get(question.pk)
                answers.append(_answer_text(question, answer.body) if answer else "")
            yield [
                response.pk,
                response.learner.get_username() if response.learner else "",
                response.created.isoformat(),
                response.updated.isoformat(),
                response.cohort_key,
                response.enrollment_status,
                response.progress_state,
                response.progress_percent,
                *answers,
            ]

    name = slugify(target.survey.name) or f"survey-{target.survey_id}"
    return _csv_response(f"{name}-responses.csv", header, rows())


def course_csv(report: dict) -> HttpResponse:
    """One row per survey of a course report (:func:`lms_surveys.reports.course_report`)."""
    header = [
        "survey",
        "name",
        "scope",
        "key",
        "title",
        "responses",
        "response_rate",
        "rating_count",
        "rating_average",
    ]
    rows = (
        [
            row["survey"],
            row["name"],
            row["scope"],
            row["key"],
            row["title"],
            row["responses"],
            row["response_rate"],
            row["rating_count"],
            row["rating_average"],
        ]
        for row in report["targets"]
    )
    return _csv_response(f"course-{slugify(report['course_key']) or 'surveys'}-surveys.csv", header, rows)
