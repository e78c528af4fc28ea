"""The learner's survey page: the questions of one survey as a plain HTML form, answered through the same
services as the REST API (so the same rules and messages)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import services
from .conf import app_settings
from .exceptions import InvalidAnswers, LmsSurveysError
from .models import ContentSurvey, SurveyAnswer, SurveyResponse


def _answers_from_post(post, questions) -> dict:
    answers = {}
    for question in questions:
        name = f"question_{question.pk}"
        if question.type == services.MULTIPLE:
            values = post.getlist(name)
            if values:
                answers[str(question.pk)] = values
        elif post.get(name, "") != "":
            answers[str(question.pk)] = post[name]
    return answers


def _next_url(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return None


@require_http_methods(["GET", "POST"])
def take_survey(request, pk):
    target = get_object_or_404(ContentSurvey.objects.select_related("survey"), survey_id=pk)
    survey = target.survey
    if not survey.is_published and not request.user.is_staff:
        raise Http404(_("No survey here."))
    questions = list(survey.questions.select_related("lms_options", "category").order_by("order", "id"))
    mine = None
    if request.user.is_authenticated:
        mine = SurveyResponse.objects.filter(target=target, learner=request.user).first()
    errors, refused, values = {}, None, {}
    if mine is not None:
        answers = SurveyAnswer.objects.filter(response_id=mine.pk).select_related("question")
        values = services.answer_values(answers)
    try:
        services.learner_context(request.user, target, preview=True)
    except LmsSurveysError as exc:
        refused = exc.detail
    if request.method == "POST" and refused is None:
        answers = _answers_from_post(request.POST, questions)
        values = answers
        try:
            if mine is None:
                services.submit_response(target, request.user, answers)
            else:
                services.edit_response(mine, request.user, answers)
        except InvalidAnswers as exc:
            errors = {key: [str(m) for m in msgs] for key, msgs in exc.detail.get("answers", {}).items()}
            if isinstance(exc.detail.get("answers"), list):
                refused = exc.detail["answers"][0]
        except LmsSurveysError as exc:
            refused = exc.detail
        else:
            messages.success(request, _("Thank you: your answers are saved."))
            return redirect(_next_url(request) or survey.redirect_url or request.path)
    rows = []
    for question in questions:
        value = values.get(str(question.pk))
        rows.append(
            {
                "question": question,
                "name": f"question_{question.pk}",
                "value": "" if value is None else value,
                "selected": value if isinstance(value, list) else [value],
                "choices": question.get_choices(),
                "errors": errors.get(str(question.pk), []),
            }
        )
    closed = services.closed_reason(survey)
    locked = mine is not None and not survey.editable_answers
    context = {
        "base_template": app_settings.BASE_TEMPLATE,
        "target": target,
        "survey": survey,
        "rows": rows,
        "mine": mine,
        "refused": refused,
        "closed": closed,
        "can_submit": refused is None and closed is None and not locked,
        "locked": locked,
        "next": _next_url(request) or "",
    }
    status = 400 if errors else 200
    return render(request, "lms_surveys/take.html", context, status=status)
