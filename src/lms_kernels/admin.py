"""Admin for kernel environments, kernels, sessions and API tokens.

Kernels get actions to interrupt, restart and shut down; the connection info (ports, HMAC key) is never
shown, and only a token's prefix is.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .exceptions import KernelServiceError
from .models import Kernel, KernelApiToken, KernelEnvironment, KernelSession


@admin.register(KernelEnvironment)
class KernelEnvironmentAdmin(admin.ModelAdmin):
    list_display = ["slug", "display_name", "language", "backend", "image", "gpus", "is_active", "position"]
    list_filter = ["is_active", "backend", "language"]
    list_editable = ["is_active", "position"]
    search_fields = ["slug", "display_name", "description"]
    readonly_fields = ["image_digest"]  # recorded by `lms_kernels_image` or the first start
    fieldsets = [
        (None, {"fields": ["slug", "display_name", "language", "description", "is_active", "position"]}),
        (_("Where it runs"), {"fields": ["backend", "image", "image_digest", "network", "backend_options"]}),
        (
            _("Resources and limits"),
            {"fields": ["cpu_limit", "memory_limit", "gpus", "idle_timeout", "max_age", "output_cap"]},
        ),
    ]

    def save_model(self, request, obj, form, change):
        if change and "image" in form.changed_data:
            obj.image_digest = ""  # a new image name is resolved (and pinned) again on the next start
        super().save_model(request, obj, form, change)


def _run_on_kernels(modeladmin, request, queryset, action, done_message):
    done = 0
    for kernel in queryset.select_related("environment"):
        try:
            async_to_sync(action)(kernel)
            done += 1
        except KernelServiceError as exc:
            modeladmin.message_user(request, f"{kernel}: {exc.detail}", messages.ERROR)
    if done:
        modeladmin.message_user(request, done_message(done), messages.SUCCESS)


@admin.action(description=_("Interrupt the selected kernels"))
def interrupt_kernels(modeladmin, request, queryset):
    _run_on_kernels(
        modeladmin,
        request,
        queryset,
        services.interrupt_kernel,
        lambda n: ngettext("Interrupted %d kernel.", "Interrupted %d kernels.", n) % n,
    )


@admin.action(description=_("Restart the selected kernels"))
def restart_kernels(modeladmin, request, queryset):
    _run_on_kernels(
        modeladmin,
        request,
        queryset,
        services.restart_kernel,
        lambda n: ngettext("Restarted %d kernel.", "Restarted %d kernels.", n) % n,
    )


@admin.action(description=_("Shut down the selected kernels"))
def shut_down_kernels(modeladmin, request, queryset):
    _run_on_kernels(
        modeladmin,
        request,
        queryset,
        services.shutdown_kernel,
        lambda n: ngettext("Shut down %d kernel.", "Shut down %d kernels.", n) % n,
    )


class KernelSessionInline(admin.TabularInline):
    model = KernelSession
    fields = ["path", "name", "type", "created"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Kernel)
class KernelAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "owner",
        "name",
        "status",
        "execution_state",
        "backend",
        "connections",
        "last_activity",
        "created",
    ]
    list_filter = ["status", "execution_state", "backend", "name"]
    search_fields = ["id", "owner__username", "owner__email"]
    list_select_related = ["owner", "environment"]
    readonly_fields = [
        "id",
        "owner",
        "environment",
        "name",
        "status",
        "execution_state",
        "reason",
        "backend",
        "connections",
        "created",
        "last_activity",
        "process",
        "image",
    ]
    fields = readonly_fields
    inlines = [KernelSessionInline]
    actions = [interrupt_kernels, restart_kernels, shut_down_kernels]

    def has_add_permission(self, request):
        return False  # kernels are started through the API

    def has_delete_permission(self, request, obj=None):
        return False  # "shut down" stops the process too; deleting the row alone would orphan it

    @admin.display(description=_("process"))
    def process(self, obj):
        state = obj.backend_state or {}
        return (
            ", ".join(f"{key}={state[key]}" for key in ("pid", "host", "container_id") if key in state) or "-"
        )

    @admin.display(description=_("image"))
    def image(self, obj):
        """The image (and its id) a container kernel runs, as its backend recorded it."""
        state = obj.backend_state or {}
        if not state.get("image_id"):
            return "-"
        return f"{state.get('image') or '?'} ({state['image_id']})"


@admin.register(KernelSession)
class KernelSessionAdmin(admin.ModelAdmin):
    list_display = ["path", "owner", "kernel", "type", "created"]
    search_fields = ["path", "owner__username"]
    list_select_related = ["owner", "kernel"]
    readonly_fields = ["id", "owner", "kernel", "path", "name", "type", "created"]

    def has_add_permission(self, request):
        return False


@admin.register(KernelApiToken)
class KernelApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "prefix", "created", "last_used"]
    search_fields = ["user__username", "prefix"]
    readonly_fields = ["user", "prefix", "created", "last_used"]

    def has_add_permission(self, request):
        return False  # tokens are issued by `manage.py lms_kernels_token`, which shows them once
