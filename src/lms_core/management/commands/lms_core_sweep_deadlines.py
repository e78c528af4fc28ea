"""``manage.py lms_core_sweep_deadlines``: sweep every enrollment now, or queue the repeating background sweep."""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from ...deadlines import sweep_enrollments
from ...stats import record_status_snapshots


class Command(BaseCommand):
    help = (
        "Bring every enrollment's status up to date now (delayed, caught up, completed), send the signals "
        "and record today's status counts per cohort. "
        "With --schedule, queue the repeating background sweep instead (django-background-tasks)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--schedule",
            action="store_true",
            help='Queue the repeating sweep (every LMS_CORE["DEADLINE_SWEEP_INTERVAL"] seconds) for '
            "process_tasks; idempotent.",
        )
        parser.add_argument(
            "--database", default=None, help="Only with --schedule: the database to queue on."
        )

    def handle(self, *args, schedule=False, database=None, **options):
        if schedule:
            self.schedule(database)
            return
        result = sweep_enrollments()
        record_status_snapshots(now=result.at)
        self.stdout.write(
            f"{len(result.delayed)} delayed, {len(result.caught_up)} caught up, "
            f"{len(result.completed)} completed."
        )

    def schedule(self, database):
        if not apps.is_installed("background_task"):
            raise CommandError(
                'django-background-tasks is not installed: add "lms_core.apps.BackgroundTaskConfig" to '
                "INSTALLED_APPS, or run this command without --schedule from cron."
            )
        from ...tasks import schedule_deadline_sweep

        task = schedule_deadline_sweep(using=database)
        if task is None:
            self.stdout.write('LMS_CORE["DEADLINE_SWEEP_INTERVAL"] is None: no repeating sweep is queued.')
        else:
            self.stdout.write(
                f"The deadline sweep runs every {task.repeat} s; next run at {task.run_at.isoformat()}."
            )
