"""Include under a prefix of your choice, e.g. ``path("surveys/", include("lms_surveys.urls"))``."""

from django.urls import include, path

from lms_common import converters

from . import views

app_name = "lms_surveys"

converters.register()  # <lms_id:...>, <lms_path:...>: ids past 64 bits and NUL characters are a 404

urlpatterns = [
    path("<lms_id:pk>/", views.take_survey, name="take"),
    path("api/", include("lms_surveys.api.urls")),
]
