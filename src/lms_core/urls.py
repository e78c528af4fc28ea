from django.urls import include, path

from . import views

app_name = "lms_core"

urlpatterns = [
    path("avatars/<int:pk>.png", views.avatar, name="avatar"),
    # The REST API (lms_core.api): its route names are in this namespace too, prefixed "api-".
    path("api/", include("lms_core.api.urls")),
]
