"""The policy adapter: who may use which environment, whose kernels a user sees, how many kernels they get.

Name a subclass in ``LMS_KERNELS["ADAPTER"]`` to apply an institution's rules, e.g. GPU environments only
for enrolled learners of a course, or staff seeing everyone's kernels::

    class MyAdapter(KernelAdapter):
        def can_use_environment(self, user, environment):
            return super().can_use_environment(user, environment) and (
                environment.gpus == 0 or user.groups.filter(name="gpu").exists()
            )

        def get_max_kernels(self, user):
            return None if user.is_staff else 2

GPU quotas are per user and per *group*: a string the adapter derives from the kernel's session path (a
lesson), e.g. the course a lesson belongs to. lms_kernels knows nothing of courses; a project that has
them says how paths map to groups::

    class CourseAdapter(KernelAdapter):
        def get_kernel_group(self, user, environment, path):
            # lesson pages are at /courses/<course-key>/lessons/<slug>/
            parts = (path or "").strip("/").split("/")
            return parts[1] if len(parts) > 2 and parts[0] == "courses" else ""

        def get_group_gpu_quota(self, group):
            return 4 if group else None

The methods are synchronous (they may query the database); the service calls them from a thread when it
runs in async code. Querysets are returned lazily and used as filters, so ownership is enforced in the
query itself: a kernel outside :meth:`get_kernel_queryset` is a 404.
"""

from __future__ import annotations

from .conf import app_settings

__all__ = ["KernelAdapter", "get_adapter"]


class KernelAdapter:
    def get_environment_queryset(self, user):
        """Environments offered to ``user`` as kernelspecs (then filtered by :meth:`can_use_environment`)."""
        from .models import KernelEnvironment

        return KernelEnvironment.objects.active()

    def can_use_environment(self, user, environment) -> bool:
        """Whether ``user`` may start kernels in ``environment``. Default: any active environment."""
        return bool(user.is_authenticated and user.is_active and environment.is_active)

    def get_kernel_queryset(self, user):
        """The kernels ``user`` may see and control. Default: their own, staff included."""
        from .models import Kernel

        return Kernel.objects.filter(owner=user)

    def get_session_queryset(self, user):
        """The sessions ``user`` may see and change. Default: their own."""
        from .models import KernelSession

        return KernelSession.objects.filter(owner=user)

    def get_max_kernels(self, user) -> int | None:
        """How many kernels ``user`` may have at once; ``None`` for no limit."""
        return app_settings.MAX_KERNELS_PER_USER

    # -- GPUs ------------------------------------------------------------------------------------------------

    def get_kernel_group(self, user, environment, path: str | None) -> str:
        """The group a new kernel counts against for GPU quotas and accounting (e.g. a course key), or ``""``
        for none. ``path`` is the session's path (a lesson), ``None`` for a kernel started without a
        session. Default: no group."""
        return ""

    def get_group_display_name(self, group: str) -> str:
        """How a group is named in messages to learners (e.g. the course's title). Default: its key."""
        return group

    def get_gpu_quota(self, user) -> int | None:
        """How many GPUs ``user``'s kernels may hold (or wait for) at once; ``None`` for no limit."""
        return app_settings.GPU_QUOTA_PER_USER

    def get_group_gpu_quota(self, group: str) -> int | None:
        """How many GPUs the kernels of ``group`` may hold (or wait for) at once; ``None`` for no limit.
        Default: ``GPU_QUOTA_PER_GROUP[group]``, no limit for groups it does not name (and for ``""``)."""
        if not group:
            return None
        return app_settings.GPU_QUOTA_PER_GROUP.get(group)

    def can_view_gpu_usage(self, user, *, owner=None, group: str | None = None) -> bool:
        """Whether ``user`` may see the GPU usage of ``owner`` (a user; ``None``: everyone's) within
        ``group`` (``None``: every group), in ``GET api/gpu-usage``. Default: staff see everything, others
        their own usage only."""
        if user.is_staff:
            return True
        return owner is not None and owner.pk == user.pk


def get_adapter() -> KernelAdapter:
    return app_settings.ADAPTER()
