from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.cache import cache_control


@cache_control(max_age=86400)
def no_favicon(request):
    """Browsers ask every site for ``/favicon.ico`` by themselves (the admin's pages name no icon).

    A project answers it; this bare test project has no icon, so it says so with "204 No Content" rather than
    a 404, which a browser reports as a console error on every page (and the browser tests fail on those).
    """
    return HttpResponse(status=204)


urlpatterns = [
    path("favicon.ico", no_favicon),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("hijack/", include("lms_core.hijack.urls")),
    path("core/", include("lms_core.urls")),
]
