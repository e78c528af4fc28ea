"""``manage.py lms_kernels_cull``: shut down idle, too old and lost kernels now, and restart stuck ones (see
lms_kernels.culling), then end overdue waits in the queue and start waiting kernels that fit (see
lms_kernels.queue)."""

from django.core.management.base import BaseCommand

from ...culling import cull_kernels
from ...queue import process_queue


class Command(BaseCommand):
    help = (
        "Shut down kernels that are idle past their timeout, older than their maximum age, or lost; restart "
        "kernels busy past their maximum busy time that do not answer; then end "
        "waits in the queue older than QUEUE_TIMEOUT and start waiting kernels that fit. The repeating "
        "background task does the same every CULL_INTERVAL seconds; use this from cron instead."
    )

    def handle(self, *args, **options):
        culled = cull_kernels()
        for item in culled:
            done = "restarted" if item.reason == "stuck" else "culled"  # busy past its maximum, not answering
            self.stdout.write(
                f"{done} {item.kernel_id} ({item.environment}, user {item.owner_id}): {item.reason}"
            )
        self.stdout.write(self.style.SUCCESS(f"{len(culled)} kernel(s) culled."))
        ended, started = process_queue()
        for kernel in ended:
            self.stdout.write(f"ended the wait of {kernel.id} ({kernel.name}, user {kernel.owner_id})")
        for kernel in started:
            self.stdout.write(f"started {kernel.id} ({kernel.name}, user {kernel.owner_id}) from the queue")
        if ended or started:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{len(ended)} wait(s) ended, {len(started)} kernel(s) started from the queue."
                )
            )
