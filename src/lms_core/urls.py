from django.urls import include, path, re_path

from . import views
from .avatars import AVATAR_KEY_LENGTH

app_name = "lms_core"

urlpatterns = [
    # An opaque key (lms_core.avatars.avatar_key), never the user's pk: old /avatars/<pk>.png URLs are 404s.
    re_path(rf"^avatars/(?P<key>[0-9a-f]{{{AVATAR_KEY_LENGTH}}})\.png$", views.avatar, name="avatar"),
    # The REST API (lms_core.api): its route names are in this namespace too, prefixed "api-".
    path("api/", include("lms_core.api.urls")),
]
