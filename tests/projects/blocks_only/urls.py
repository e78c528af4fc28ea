from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls

urlpatterns = [
    path("cms/", include(wagtailadmin_urls)),
    path("blocks/", include("lms_cms_blocks.urls")),
    path("", include(wagtail_urls)),
]
