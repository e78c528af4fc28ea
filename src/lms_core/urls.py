from django.urls import path

from . import views

app_name = "lms_core"

urlpatterns = [
    path("avatars/<int:pk>.png", views.avatar, name="avatar"),
]
