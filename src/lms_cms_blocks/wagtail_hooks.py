"""Admin integration: "Import a notebook" in the menu, export and headless-preview links on lessons."""

from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.widgets import Button

from . import admin_views
from .pages import AbstractLessonPage


@hooks.register("register_admin_urls")
def register_admin_urls():
    return [
        path(
            "lms-cms-blocks/import-notebook/",
            admin_views.import_notebook_view,
            name="lms_cms_blocks_import_notebook",
        ),
        path(
            "lms-cms-blocks/pages/<int:page_id>/notebook/",
            admin_views.export_notebook_view,
            name="lms_cms_blocks_export_notebook",
        ),
        path(
            "lms-cms-blocks/pages/<int:page_id>/preview-token/",
            admin_views.preview_token_view,
            name="lms_cms_blocks_preview_token",
        ),
    ]


class _ImportMenuItem(MenuItem):
    def is_shown(self, request):
        from wagtail.permission_policies.pages import PagePermissionPolicy

        return PagePermissionPolicy().user_has_permission(request.user, "add")


@hooks.register("register_admin_menu_item")
def register_import_menu_item():
    return _ImportMenuItem(
        _("Import a notebook"), reverse("lms_cms_blocks_import_notebook"), icon_name="upload", order=250
    )


@hooks.register("register_page_header_buttons")
def lesson_header_buttons(page, user, view_name=None, next_url=None):
    if isinstance(page.specific_deferred, AbstractLessonPage) and page.permissions_for_user(user).can_edit():
        yield Button(
            _("Export as notebook"),
            reverse("lms_cms_blocks_export_notebook", args=[page.pk]),
            icon_name="download",
            priority=60,
        )
        yield Button(
            _("Headless preview link"),
            reverse("lms_cms_blocks_preview_token", args=[page.pk]),
            icon_name="link",
            priority=61,
        )
