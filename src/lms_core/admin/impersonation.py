"""The "impersonate" button for admin rows that belong to a user (django-hijack), and the audit log's admin."""

from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string
from hijack.conf import settings as hijack_settings
from hijack.contrib.admin import HijackUserAdminMixin

from ..models import HijackEvent

__all__ = ["HijackEventAdmin", "ImpersonateUserButtonMixin", "hijack_available", "user_search_fields"]


def user_search_fields(prefix: str) -> list[str]:
    """Search lookups for a foreign key to the user model, for any user model (its username and e-mail)."""
    User = get_user_model()
    names = [User.USERNAME_FIELD, User.get_email_field_name()]
    names += [name for name in ("first_name", "last_name") if _has_field(User, name)]
    return [f"{prefix}__{name}" for name in dict.fromkeys(names) if _has_field(User, name)]


def _has_field(model, name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def hijack_available() -> bool:
    """django-hijack is installed and its URLs are included, so a button would work."""
    if not apps.is_installed("hijack"):
        return False
    try:
        reverse("hijack:acquire")
    except NoReverseMatch:
        return False
    return True


class ImpersonateUserButtonMixin(HijackUserAdminMixin):
    """An "impersonate <user>" button on every changelist row, for the user ``get_hijack_user(obj)`` returns.

    django-hijack's own mixin renders a template that lives in ``hijack.contrib.admin``; this one renders
    ``lms_core/admin/hijack_button.html`` so it works whether or not that app is installed, decides in Python
    (through ``HIJACK_PERMISSION_CHECK``) whether to show the button, and adds no column at all when
    django-hijack is not installed or its URLs are not included. Select the related user in
    ``list_select_related``: the check reads its flags, and permissions are cached on the staff member, so
    the changelist still runs a constant number of queries.
    """

    def get_hijack_user(self, obj):
        return obj.user

    def hijack_button(self, request, obj):
        user = self.get_hijack_user(obj)
        check = import_string(hijack_settings.HIJACK_PERMISSION_CHECK)
        if user is None or not check(hijacker=request.user, hijacked=user):
            return ""
        return render_to_string(
            "lms_core/admin/hijack_button.html",
            {"hijacked": user, "name": str(user), "next": self.get_hijack_success_url(request, obj)},
            request=request,
        )

    def get_hijack_success_url(self, request, obj):
        # The learner's own view of the site, not the object's admin page (which the learner cannot open).
        return super().get_hijack_success_url(request, self.get_hijack_user(obj))

    @property
    def media(self):
        if hijack_available():
            return super().media
        return super(HijackUserAdminMixin, self).media

    def get_changelist_instance(self, request):
        if hijack_available():
            return super().get_changelist_instance(request)
        return super(HijackUserAdminMixin, self).get_changelist_instance(request)


@admin.register(HijackEvent)
class HijackEventAdmin(admin.ModelAdmin):
    """The impersonation audit log: readable by staff with the view permission, changeable by nobody.

    Not even a superuser may add, change or delete an entry here: an audit log that its subjects can edit
    proves nothing.
    """

    list_display = ["at", "action", "hijacker", "hijacked", "ip_address", "path"]
    list_filter = ["action", "at"]
    list_select_related = ["hijacker", "hijacked"]
    search_fields = [*user_search_fields("hijacker"), *user_search_fields("hijacked"), "ip_address", "path"]
    date_hierarchy = "at"
    fields = ["at", "action", "hijacker", "hijacked", "ip_address", "path"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
