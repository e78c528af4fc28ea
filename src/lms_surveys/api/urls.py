from django.urls import path

from lms_common import converters

from . import views

converters.register()  # <lms_id:...>: ids past 64 bits are a 404, not an overflow in the database

urlpatterns = [
    path("contents/<path:key>/survey/", views.TargetSurveyView.as_view(), name="api-content-survey"),
    path("contents/<path:key>/surveys/", views.TargetSurveyListView.as_view(), name="api-content-surveys"),
    path(
        "courses/<path:key>/survey/",
        views.TargetSurveyView.as_view(scope="course"),
        name="api-course-survey",
    ),
    path("surveys/<lms_id:pk>/", views.SurveyDetailView.as_view(), name="api-survey"),
    path("surveys/<lms_id:pk>/responses/", views.SubmitView.as_view(), name="api-survey-responses"),
    path("me/responses/", views.MyResponsesView.as_view(), name="api-my-responses"),
    path("me/responses/<lms_id:pk>/", views.MyResponseView.as_view(), name="api-my-response"),
    path("me/pending/", views.PendingView.as_view(), name="api-my-pending"),
    path("reports/surveys/<lms_id:pk>/", views.SurveyReportView.as_view(), name="api-survey-report"),
    path("reports/courses/<path:key>/", views.CourseReportView.as_view(), name="api-course-report"),
]
