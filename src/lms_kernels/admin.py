"""Admin for kernel environments, kernels, sessions, GPU allocations and usage, warm pools, and API tokens.

Kernels get actions to interrupt, restart and shut down; the connection info (ports, HMAC key) is never
shown, and only a token's prefix is. GPU usage records are read-only, with GPU-seconds per user and per group
of what the list shows (filters and search apply) above the list.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import accounting, services
from .exceptions import KernelServiceError
from .models import (
    GpuAllocation,
    GpuUsage,
    Kernel,
    KernelApiToken,
    KernelEnvironment,
    KernelSession,
    WarmKernel,
)


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
            {
                "fields": [
                    "cpu_limit",
                    "memory_limit",
                    "gpus",
                    "idle_timeout",
                    "max_age",
                    "max_busy_time",
                    "output_cap",
                ]
            },
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
        "group",
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
        "busy_since",
        "unresponsive_since",
        "restart_count",
        "restarted_at",
        "backend",
        "group",
        "gpu_devices",
        "queued_at",
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


@admin.register(GpuAllocation)
class GpuAllocationAdmin(admin.ModelAdmin):
    """The GPUs held now (read-only: the service allocates and releases them)."""

    list_display = ["backend", "device", "slot", "kernel", "owner", "allocated_at"]
    list_filter = ["backend", "device"]
    list_select_related = ["kernel__owner"]
    readonly_fields = ["backend", "device", "slot", "kernel", "allocated_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # shut the kernel down instead: its process would keep using the GPU

    @admin.display(description=_("owner"))
    def owner(self, obj):
        return obj.kernel.owner


@admin.register(WarmKernel)
class WarmKernelAdmin(admin.ModelAdmin):
    """The kernels of warm pools (read-only: ``manage.py lms_kernels_pool`` fills and drains them)."""

    list_display = ["id", "environment", "backend", "ready", "image_id", "created"]
    list_filter = ["backend", "ready", "environment"]
    list_select_related = ["environment"]
    readonly_fields = ["id", "environment", "backend", "ready", "image_id", "created"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # drain the pool instead: its container would be left running


class RunningFilter(admin.SimpleListFilter):
    title = _("running")
    parameter_name = "running"

    def lookups(self, request, model_admin):
        return [("yes", _("GPU held now")), ("no", _("released"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(ended__isnull=True)
        if self.value() == "no":
            return queryset.filter(ended__isnull=False)
        return queryset


@admin.register(GpuUsage)
class GpuUsageAdmin(admin.ModelAdmin):
    """GPU-seconds: one row per kernel and GPU; the totals above the list follow its filters."""

    change_list_template = "admin/lms_kernels/gpuusage/change_list.html"
    list_display = ["started", "owner", "group", "environment", "device", "backend", "ended", "gpu_seconds"]
    list_filter = [RunningFilter, "group", "environment", "backend", "device"]
    search_fields = ["owner__username", "group", "kernel_id"]
    date_hierarchy = "started"
    list_select_related = ["owner"]
    readonly_fields = [
        "kernel_id",
        "owner",
        "group",
        "environment",
        "backend",
        "device",
        "started",
        "ended",
        "seconds",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # accounting records

    @admin.display(description=_("GPU-seconds"))
    def gpu_seconds(self, obj):
        return f"{obj.seconds_until(timezone.now()):.0f}"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if not context or "cl" not in context:
            return response  # a redirect, or an error page
        records = context["cl"].queryset
        now = timezone.now()
        by_owner = accounting.shares(records, "owner", now, limit=50)
        names = {
            user.pk: user
            for user in get_user_model()._default_manager.filter(pk__in=[s.key for s in by_owner])
        }
        total = accounting.totals(records, now)
        context["gpu_usage_summary"] = {
            "hours": _hours(total.seconds),
            "records": total.records,
            "running": total.running,
            "by_user": [
                {"user": names.get(share.key), "hours": _hours(share.seconds), "records": share.records}
                for share in by_owner
            ],
            "by_group": [
                {"group": share.key, "hours": _hours(share.seconds), "records": share.records}
                for share in accounting.shares(records, "group", now, limit=50)
            ],
        }
        return response


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f}"
