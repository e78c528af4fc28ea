"""``manage.py lms_kernels_cull``: shut down idle, too old and lost kernels now (see lms_kernels.culling)."""

from django.core.management.base import BaseCommand

from ...culling import cull_kernels


class Command(BaseCommand):
    help = (
        "Shut down kernels that are idle past their timeout, older than their maximum age, or lost. The "
        "repeating background task does the same every CULL_INTERVAL seconds; use this from cron instead."
    )

    def handle(self, *args, **options):
        culled = cull_kernels()
        for item in culled:
            self.stdout.write(
                f"culled {item.kernel_id} ({item.environment}, user {item.owner_id}): {item.reason}"
            )
        self.stdout.write(self.style.SUCCESS(f"{len(culled)} kernel(s) culled."))
