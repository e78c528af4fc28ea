from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.templatetags.static import static as static_url
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.documents import urls as wagtaildocs_urls

from lms_cms_blocks.api import DocumentsAPIViewSet, ImagesAPIViewSet, LessonPagesAPIViewSet

from . import learning, teaching, views

# Wagtail API v2: pages (with headless previews of drafts: pages/preview/?token=...), images, documents.
api_router = WagtailAPIRouter("wagtailapi")
api_router.register_endpoint("pages", LessonPagesAPIViewSet)
api_router.register_endpoint("images", ImagesAPIViewSet)
api_router.register_endpoint("documents", DocumentsAPIViewSet)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("courses/<int:enrollment_pk>/", learning.course, name="course"),
    path("courses/<int:enrollment_pk>/shift/", learning.shift_my_dates, name="shift-my-dates"),
    path("profile/", learning.profile, name="profile"),
    path("lesson-progress/<int:page_id>/complete/", learning.complete_lesson, name="complete-lesson"),
    path("teach/", teaching.cohorts, name="cohorts"),
    path("teach/cohorts/<int:cohort_pk>/", teaching.cohort_dashboard, name="cohort-dashboard"),
    path("favicon.ico", RedirectView.as_view(url=static_url("groundup_site/favicon.svg"), permanent=True)),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("hijack/", include("lms_core.hijack.urls")),  # bad input: a 4xx with a message
    path("cms/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("core/", include("lms_core.urls")),
    path("kernels/", include("lms_kernels.urls")),  # Jupyter Server API: /kernels/api/kernels, ...
    path("surveys/", include("lms_surveys.urls")),  # survey pages; REST API under /surveys/api/
    path("blocks/", include("lms_cms_blocks.urls")),  # the Jupyter block's cell-state API
    # The OpenAPI schema of our REST APIs (Wagtail's own API excluded, see SPECTACULAR_SETTINGS) and its UI.
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v2/", api_router.urls),
    path("lessons/", include(wagtail_urls)),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
