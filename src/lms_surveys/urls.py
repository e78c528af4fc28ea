"""Include under a prefix of your choice, e.g. ``path("surveys/", include("lms_surveys.urls"))``."""

from django.urls import include, path

from . import views

app_name = "lms_surveys"

urlpatterns = [
    path("<int:pk>/", views.take_survey, name="take"),
    path("api/", include("lms_surveys.api.urls")),
]
