from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("hijack/", include("lms_core.hijack.urls")),
    path("core/", include("lms_core.urls")),
]
