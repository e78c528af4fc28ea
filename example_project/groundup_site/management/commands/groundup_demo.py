"""``manage.py groundup_demo``: migrate, load demo data, then serve the site with the task worker.

Stopping it (Ctrl+C, or SIGTERM to this command) stops the server and the worker, then shuts down every kernel
(and its iopub relay) in the demo's database, as Jupyter Server does when it exits: kernels outlive the ASGI
server by design (several workers, restarts, deployments), so without this they would keep running with no
server and no culler. ``--keep-kernels`` (or ``GROUNDUP_DEMO_KEEP_KERNELS = True``) keeps them instead, as a
production server does; ``manage.py lms_kernels_shutdown_all`` shuts them down later.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string


class Command(BaseCommand):
    help = (
        "Migrate the database, load the demo data (idempotent) and print the demo users' credentials, then run "
        "the ASGI server (uvicorn) together with the background-task worker until interrupted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-serve", action="store_true", help="Only migrate and load the demo data.")
        parser.add_argument(
            "--no-worker", action="store_true", help="Do not start the background-task worker."
        )
        parser.add_argument(
            "--ready-timeout", type=float, default=60.0, help="Seconds to wait for the server to answer."
        )
        keep = parser.add_mutually_exclusive_group()
        keep.add_argument(
            "--keep-kernels",
            dest="keep_kernels",
            action="store_true",
            default=getattr(settings, "GROUNDUP_DEMO_KEEP_KERNELS", False),
            help="When stopped, leave the kernels running (as a production server does across restarts); "
            "the default comes from the GROUNDUP_DEMO_KEEP_KERNELS setting (False).",
        )
        keep.add_argument(
            "--shutdown-kernels",
            dest="keep_kernels",
            action="store_false",
            help="When stopped, shut down every kernel and its iopub relay (the default).",
        )

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if settings.SERVE_STATIC is False:
            call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(self.style.MIGRATE_HEADING("Demo data"))
        for dotted in settings.GROUNDUP_DEMO_LOADERS:
            for line in import_string(dotted)() or []:
                self.stdout.write(line)
        if options["no_serve"]:
            return
        self.serve(options)

    def serve(self, options):
        host, port = options["host"], options["port"]
        project_dir = settings.BASE_DIR
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "groundup_site.settings"),
        }
        children = {
            "server": subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "groundup_site.asgi:application",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "--no-access-log",
                    "--lifespan",
                    "off",
                ],
                cwd=project_dir,
                env=env,
            )
        }
        if not options["no_worker"]:
            children["worker"] = subprocess.Popen(
                [sys.executable, "manage.py", "process_tasks", "--sleep", "1"], cwd=project_dir, env=env
            )

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True
            # A second Ctrl+C while the kernels are being shut down stops waiting for them.
            signal.signal(signal.SIGINT, signal.default_int_handler)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            url = f"http://{'localhost' if host in {'127.0.0.1', '0.0.0.0'} else host}:{port}/"  # noqa: S104
            self.wait_until_ready(url, children, options["ready_timeout"])
            self.stdout.write(self.style.SUCCESS(f"\nGroundup LMS is running at {url}"))
            self.stdout.write(f"  admin: {url}admin/   lesson editor (Wagtail): {url}cms/")
            self.stdout.write(
                "  the background-task worker is " + ("off" if options["no_worker"] else "running")
            )
            self.stdout.write("Press Ctrl+C to stop.")
            while not stopping:
                for name, child in children.items():
                    if child.poll() is not None:
                        raise CommandError(f"The {name} exited with status {child.returncode}.")
                time.sleep(0.5)
        finally:
            for child in children.values():
                if child.poll() is None:
                    child.terminate()
            for child in children.values():
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
            self.stop_kernels(options["keep_kernels"])

    def stop_kernels(self, keep: bool) -> None:
        """Once the server and the worker are gone (nothing starts a kernel any more): shut the kernels down."""
        if not apps.is_installed("lms_kernels"):
            return
        if keep:
            self.stdout.write(
                "The kernels keep running (--keep-kernels); `manage.py lms_kernels_shutdown_all` stops them."
            )
            return
        self.stdout.write("Shutting down the kernels...")
        call_command("lms_kernels_shutdown_all", stdout=self.stdout, stderr=self.stderr)

    def wait_until_ready(self, url, children, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if children["server"].poll() is not None:
                raise CommandError(f"The server exited with status {children['server'].returncode}.")
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise CommandError(f"The server did not answer at {url} within {timeout:.0f} s.")
