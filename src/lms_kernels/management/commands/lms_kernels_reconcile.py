"""``manage.py lms_kernels_reconcile``: remove orphan containers and recover lost kernels now.

The repeating culling task does the same on every run (see :mod:`lms_kernels.reconcile`); use this after
an incident, or from cron where no task worker runs.
"""

from django.core.management.base import BaseCommand, CommandError

from ...reconcile import reconcile_kernels


class Command(BaseCommand):
    help = (
        "Remove containers that belong to no kernel, and recover (restart or mark dead) kernels whose container "
        "is gone, for every backend that supports it (the docker backend)."
    )

    def handle(self, *args, **options):
        reports = reconcile_kernels()
        failed = False
        for report in reports:
            if report.error:
                failed = True
                self.stderr.write(f"{report.alias}: could not reconcile: {report.error}")
                continue
            for kernel_id in report.removed:
                self.stdout.write(f"{report.alias}: removed the container of unknown kernel {kernel_id}")
            for pool_id in report.removed_pooled:
                self.stdout.write(
                    f"{report.alias}: removed the pooled container of unknown pool entry {pool_id}"
                )
            for kernel_id in report.recovered:
                self.stdout.write(f"{report.alias}: recovered kernel {kernel_id} (its container was gone)")
            self.stdout.write(
                self.style.SUCCESS(
                    f"{report.alias}: {len(report.removed) + len(report.removed_pooled)} orphan container(s) removed, "
                    f"{len(report.recovered)} lost kernel(s) recovered."
                )
            )
        if not reports:
            self.stdout.write("No configured backend supports reconciliation.")
        if failed:
            raise CommandError("Some backends could not be reconciled.")
