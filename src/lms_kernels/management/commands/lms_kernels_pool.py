"""``manage.py lms_kernels_pool``: the warm pools of kernel environments (see :mod:`lms_kernels.pools`).

* ``fill [environment ...]``: bring pools to their size now (stale, dead, left-over and extra pooled kernels
  are removed first); the repeating culling task does the same on every run.
* ``status``: each pool's size and how many of its kernels are ready, starting and stale.
* ``drain [environment ...]``: remove pooled kernels (all, or those of the environments named). They come
  back with the next fill unless the environment's ``pool_size`` is 0.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ... import pools
from ...models import KernelEnvironment


class Command(BaseCommand):
    help = (
        "Fill, list or drain the warm pools of kernel environments (pre-started kernels; the docker backend)."
    )

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True, metavar="{fill,status,drain}")
        fill = commands.add_parser("fill", help="bring pools to their size now")
        fill.add_argument("environments", nargs="*", help="environment slugs (default: every pool)")
        commands.add_parser("status", help="list the pools and their kernels")
        drain = commands.add_parser("drain", help="remove pooled kernels")
        drain.add_argument("environments", nargs="*", help="environment slugs (default: every pool)")

    def handle(self, *args, command, **options):
        if command == "status":
            return self.status()
        slugs = options["environments"]
        unknown = sorted(
            set(slugs) - set(KernelEnvironment.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        )
        if unknown:
            raise CommandError(f"No kernel environment named {', '.join(unknown)}.")
        targets = slugs or [None]
        reports = []
        for slug in targets:
            reports.extend(pools.fill(slug) if command == "fill" else pools.drain(slug))
        failed = False
        for report in reports:
            where = f"{report.environment} ({report.backend})"
            if command == "drain":
                self.stdout.write(f"{where}: {report.drained} pooled kernel(s) removed")
                continue
            removed = [
                (report.removed_stale, "stale"),
                (report.removed_dead, "dead"),
                (report.removed_left_over, "left over"),
                (report.removed_extra, "beyond the size"),
            ]
            gone = ", ".join(f"{count} {why}" for count, why in removed if count)
            self.stdout.write(
                f"{where}: size {report.size}, {report.started} started"
                + (f", removed {gone}" if gone else "")
            )
            for error in report.errors:
                failed = True
                self.stderr.write(f"{where}: could not start a pooled kernel: {error}")
        if not reports:
            self.stdout.write("No environment has a warm pool (set 'pool_size' in its backend options).")
        if failed:
            raise CommandError("Some pooled kernels could not be started.")

    def status(self):
        entries = pools.pool_status()
        if not entries:
            self.stdout.write("No environment has a warm pool (set 'pool_size' in its backend options).")
        for entry in entries:
            self.stdout.write(
                f"{entry['environment']} ({entry['backend']}): size {entry['size']}, {entry['ready']} ready, "
                f"{entry['starting']} starting, {entry['stale']} stale"
            )
