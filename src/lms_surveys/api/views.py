"""The REST API, under the project's ``surveys/`` include: names in the ``lms_surveys`` namespace, ``api-``.

Learners
  * ``GET api/contents/{key}/survey/`` and ``GET api/courses/{key}/survey/``: the survey about a learning
    content or a course (``key``: its id with lms_core, its plain key without).
  * ``GET api/surveys/{id}/``: the same by survey id. ``POST api/surveys/{id}/responses/`` ``{"answers": {}}``:
    answer it (201 with the response; 400 with messages per question; 403 closed, unpublished, not enrolled or
    not logged in; 409 already answered).
  * ``GET api/me/responses/``, ``GET/PUT api/me/responses/{id}/``: my responses; change one where the survey
    has editable answers. Another learner's response is a 404.
  * ``GET api/me/pending/``: surveys offered to me (I completed their content) and not answered yet.

Staff and instructors
  * ``GET api/reports/surveys/{id}/`` and ``GET api/reports/courses/{key}/`` (``?cohort=``), and both with
    ``?format=csv``.
"""

from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from rest_framework import generics, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from survey.models import Answer

from lms_common.parsers import StrictJSONParser

from .. import exports, reports, services
from ..models import ContentSurvey, Scope, SurveyInvitation, SurveyResponse
from ..pending import pending_invitations
from ..permissions import can_view_reports
from .renderers import CSVRenderer
from .schema import OpenApiParameter, extend_schema
from .serializers import (
    CourseReportSerializer,
    PendingSerializer,
    ResponseSerializer,
    SubmitSerializer,
    SurveyReportSerializer,
    SurveySerializer,
)

NOT_FOUND = _("No survey here.")

#: JSON within bounds (nesting, lone surrogates, numbers out of range are a 400 with a message), or a form.
PARSERS = [StrictJSONParser, FormParser, MultiPartParser]


class ResponsePagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


def _target_of(survey_pk) -> ContentSurvey:
    target = ContentSurvey.objects.select_related("survey").filter(survey_id=survey_pk).first()
    if target is None:
        raise Http404(NOT_FOUND)
    return target


def _visible_target(request, target: ContentSurvey) -> ContentSurvey:
    """Unpublished surveys are for staff; learners get the rules' messages (login, enrollment) otherwise."""
    survey = target.survey
    if not survey.is_published and not request.user.is_staff:
        raise Http404(NOT_FOUND)
    services.learner_context(request.user, target, preview=True)
    return target


def _survey_payload(request, target: ContentSurvey) -> dict:
    survey = target.survey
    survey.lms_target = target
    survey.ordered_questions = list(
        survey.questions.select_related("lms_options", "category").order_by("order", "id")
    )
    mine = None
    if request.user.is_authenticated:
        mine = (
            SurveyResponse.objects.filter(target=target, learner=request.user)
            .values_list("pk", flat=True)
            .first()
        )
    return SurveySerializer(survey, context={"request": request, "my_response": mine}).data


class TargetSurveyView(APIView):
    """The survey about a learning content or a course, with its questions and my response's id."""

    permission_classes = [AllowAny]  # the survey's own rules decide (need_logged_user, enrollment)
    scope = Scope.CONTENT

    @extend_schema(responses=SurveySerializer)
    def get(self, request, key):
        target = get_object_or_404(ContentSurvey.objects.select_related("survey"), scope=self.scope, key=key)
        return Response(_survey_payload(request, _visible_target(request, target)))


class TargetSurveyListView(APIView):
    """The surveys about a learning content that I may see: a list of none or one, so that a front end asking
    "is there a survey after this content?" gets an answer rather than a 404 (used by after-completion.js)."""

    permission_classes = [AllowAny]
    scope = Scope.CONTENT

    @extend_schema(responses=SurveySerializer(many=True))
    def get(self, request, key):
        target = ContentSurvey.objects.select_related("survey").filter(scope=self.scope, key=key).first()
        if target is None:
            return Response([])
        try:
            visible = _visible_target(request, target)
        except Http404:
            return Response([])
        return Response([_survey_payload(request, visible)])


class SurveyDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=SurveySerializer)
    def get(self, request, pk):
        return Response(_survey_payload(request, _visible_target(request, _target_of(pk))))


def _my_responses(user):
    return (
        SurveyResponse.objects.filter(learner=user)
        .select_related("target", "survey")
        .prefetch_related(
            Prefetch("answers", queryset=Answer.objects.select_related("question").order_by("pk"))
        )
        .order_by("-created", "-pk")
    )


class SubmitView(APIView):
    """Answer a survey. The answers are checked the way django-survey-and-report's form checks them."""

    permission_classes = [AllowAny]
    parser_classes = PARSERS

    @extend_schema(request=SubmitSerializer, responses={201: ResponseSerializer})
    def post(self, request, pk):
        target = _target_of(pk)
        if not target.survey.is_published and not request.user.is_staff:
            raise Http404(NOT_FOUND)
        payload = SubmitSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        response = services.submit_response(target, request.user, payload.validated_data["answers"])
        if response.learner_id is None:  # anonymous: nothing to read back later
            return Response({"id": response.pk, "survey": target.survey_id}, status=status.HTTP_201_CREATED)
        response = _my_responses(request.user).get(pk=response.pk)
        return Response(ResponseSerializer(response).data, status=status.HTTP_201_CREATED)


class MyResponsesView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = ResponseSerializer
    pagination_class = ResponsePagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular looking at the view
            return SurveyResponse.objects.none()
        return _my_responses(self.request.user)


class MyResponseView(generics.RetrieveAPIView):
    """My response; ``PUT`` replaces its answers (only where the survey allows editable answers)."""

    permission_classes = [IsAuthenticated]
    serializer_class = ResponseSerializer
    parser_classes = PARSERS

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular looking at the view
            return SurveyResponse.objects.none()
        return _my_responses(self.request.user)

    @extend_schema(request=SubmitSerializer, responses=ResponseSerializer)
    def put(self, request, pk):
        response = self.get_object()
        payload = SubmitSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.edit_response(response, request.user, payload.validated_data["answers"])
        return Response(ResponseSerializer(self.get_queryset().get(pk=response.pk)).data)


class PendingView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = PendingSerializer
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SurveyInvitation.objects.none()
        return pending_invitations(self.request.user)


COHORT = OpenApiParameter("cohort", str, description="Only this cohort's responses and learners.")


class _ReportView(APIView):
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]

    def wants_csv(self, request) -> bool:
        return getattr(request.accepted_renderer, "format", None) == "csv"


class SurveyReportView(_ReportView):
    """One survey's figures; ``?format=csv`` gives every response, one row each."""

    @extend_schema(parameters=[COHORT], responses=SurveyReportSerializer)
    def get(self, request, pk):
        target = _target_of(pk)
        if not can_view_reports(request.user, target.course_key):
            raise Http404(NOT_FOUND)
        cohort = request.query_params.get("cohort") or None
        if self.wants_csv(request):
            return exports.responses_csv(target, cohort_key=cohort)
        return Response(reports.target_report(target, cohort_key=cohort))


class CourseReportView(_ReportView):
    """The surveys of a course and its contents; ``?format=csv`` gives one row per survey."""

    @extend_schema(parameters=[COHORT], responses=CourseReportSerializer)
    def get(self, request, key):
        if not can_view_reports(request.user, key):
            raise Http404(NOT_FOUND)
        cohort = request.query_params.get("cohort") or None
        report = reports.course_report(key, cohort_key=cohort)
        if self.wants_csv(request):
            return exports.course_csv(report)
        return Response(report)
