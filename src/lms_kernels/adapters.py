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


def get_adapter() -> KernelAdapter:
    return app_settings.ADAPTER()
