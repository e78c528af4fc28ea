from django.urls import path

from lms_common import converters

from . import views

converters.register()  # <lms_id:...>, <lms_path:...>: ids past 64 bits and NUL characters are a 404

urlpatterns = [
    path("contents/<lms_path:key>/survey/", views.TargetSurveyView.as_view(), name="api-content-survey"),
    path(
        "contents/<lms_path:key>/surveys/", views.TargetSurveyListView.as_view(), name="api-content-surveys"
    ),
    path(
        "courses/<lms_path:key>/survey/",
        views.TargetSurveyView.as_view(scope="course"),
        name="api-course-survey",
    ),
    path("surveys/<lms_id:pk>/", views.SurveyDetailView.as_view(), name="api-survey"),
    path("surveys/<lms_id:pk>/responses/", views.SubmitView.as_view(), name="api-survey-responses"),
    path("me/responses/", views.MyResponsesView.as_view(), name="api-my-responses"),
    path("me/responses/<lms_id:pk>/", views.MyResponseView.as_view(), name="api-my-response"),
    path("me/pending/", views.PendingView.as_view(), name="api-my-pending"),
    path("reports/surveys/<lms_id:pk>/", views.SurveyReportView.as_view(), name="api-survey-report"),
    path("reports/courses/<lms_path:key>/", views.CourseReportView.as_view(), name="api-course-report"),
]
