#!/usr/bin/env python3
"""The whole test suite, as ``make test`` and CI run it.

Steps, in order (each is timed; the run fails if any step fails):

1. bring up the real components (``scripts/services.py up``: PostgreSQL, Redis, a Docker engine with the test
   kernel image, Chromium), installing missing ones with apt when running as root;
2. lint: ``ruff check`` and ``ruff format --check``;
   then the Jupyter block's bundle: ``npm ci`` from the lockfile and an esbuild build in
   ``src/lms_cms_blocks/frontend``, failing if the committed bundle in ``lms_cms_blocks/static/`` differs;
3. the architecture contract: ``lint-imports`` (import-linter, contracts in pyproject.toml);
4. ``makemigrations --check`` on the example project;
5. the docs, built with warnings as errors;
6. pytest with every app installed (the example project's settings) on SQLite: every test, the ``slow`` ones
   (real server processes, real Jupyter clients) included;
7. pytest with each app installed alone (``tests/projects/*_only``) on SQLite, without the ``slow`` tests;
8. pytest with every app on PostgreSQL, without the ``slow``, ``docker`` and ``browser`` tests;
9. the wheel (``scripts/wheel_smoke.py``): the sdist and the wheel built once, the wheel's contents checked, then
   each extra alone (none, kernels, docker, gateway, cms, surveys) installed from the wheel into a fresh virtual
   environment, with a fresh ``startproject``: ``check --deploy``, ``migrate`` and a smoke test;
10. a shorter leg on the newest line: Python 3.12+ with Django 6.x, SQLite (when such an interpreter exists).

Every step runs with ``LMS_TEST_RUN_ID`` set to an id of this run; each process that inherits it (servers, task
workers, kernels, relays) and is still running after its step is listed in the summary and killed, and fails the
run under ``CI=true``.

Without ``CI=true`` a missing component skips the tests that need it, and the summary says which. With
``CI=true`` a missing component fails the run.

At the end the run stops the services it started (``scripts/services.py down``; ``--keep-services`` keeps them).

Usage: ``python scripts/run_tests.py [--no-services] [--no-install] [--keep-services] [--skip STEP ...]
[-- PYTEST_ARGS]``
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import leftovers

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
VENV_BIN = Path(sys.executable).parent
NEWEST_VENV = ROOT / ".venv-newest"
FRONTEND = ROOT / "src" / "lms_cms_blocks" / "frontend"

#: Each app alone: (settings project, test paths).
APP_ALONE = {
    "core_only": ["tests/lms_common", "tests/lms_core"],
    "kernels_only": ["tests/lms_kernels", "tests/lms_common/test_translations.py"],
    "blocks_only": ["tests/lms_cms_blocks"],
    "surveys_only": ["tests/lms_surveys"],
}


class Runner:
    def __init__(self, args):
        self.args = args
        self.results: list[tuple[str, str, float]] = []
        self.services: dict = {}
        self.missing_report = Path(tempfile.mkstemp(prefix="groundup-missing-", suffix=".jsonl")[1])
        self.run_id = uuid.uuid4().hex
        self.leftovers: list[tuple[str, leftovers.Leftover]] = []

    # -- helpers -----------------------------------------------------------------------------------------

    def banner(self, text: str) -> None:
        print(f"\n\033[1m== {text}\033[0m", flush=True)

    def run(self, name: str, command: list[str], *, env: dict | None = None, cwd: Path = ROOT) -> bool:
        if name.split(":")[0] in self.args.skip:
            self.results.append((name, "skipped (--skip)", 0.0))
            return True
        self.banner(f"{name}: {' '.join(command)}")
        started = time.monotonic()
        code = subprocess.call(
            command, cwd=cwd, env={**os.environ, **(env or {}), leftovers.MARKER: self.run_id}
        )
        elapsed = time.monotonic() - started
        self.collect_leftovers(name)
        if code == 5 and "pytest" in " ".join(command):
            status = "FAILED (no tests collected)"
        else:
            status = "ok" if code == 0 else f"FAILED (exit {code})"
        self.results.append((name, status, elapsed))
        return code == 0

    def collect_leftovers(self, step: str) -> None:
        """Kill the processes of this run that outlived ``step``, and remember them for the summary."""
        found = leftovers.settle(self.run_id)
        if found:
            print(f"\n{step}: {len(found)} process(es) left running; killing them:", flush=True)
            for leftover in found:
                print(f"  {leftover}", flush=True)
            leftovers.kill(found)
            self.leftovers += [(step, leftover) for leftover in found]

    def note(self, name: str, status: str) -> None:
        self.results.append((name, status, 0.0))

    def pytest(self, name: str, *args: str, env: dict | None = None, python: Path | None = None) -> bool:
        python = python or Path(sys.executable)
        env = {"LMS_TEST_MISSING_REPORT": str(self.missing_report), **(env or {})}
        return self.run(name, [str(python), "-m", "pytest", *args, *self.args.pytest_args], env=env)

    # -- steps -------------------------------------------------------------------------------------------

    def bring_up_services(self) -> None:
        if self.args.no_services:
            self.services = {"missing": {}}
            self.note("services", "not started (--no-services)")
            return
        command = [sys.executable, str(ROOT / "scripts" / "services.py"), "up"]
        if not self.args.no_install and os.geteuid() == 0:
            command.append("--install")
        self.banner("services: " + " ".join(command[1:]))
        started = time.monotonic()
        completed = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
        lines = [line for line in completed.stdout.splitlines() if line.strip()]
        try:
            self.services = json.loads(lines[-1])
        except (IndexError, ValueError):
            self.services = {
                "missing": {"all": f"scripts/services.py printed no JSON (exit {completed.returncode})"}
            }
        missing = self.services.get("missing", {})
        status = "ok" if not missing else "missing: " + ", ".join(sorted(missing))
        if missing and IN_CI:
            status = "FAILED (" + status + ", CI=true)"
        self.results.append(("services", status, time.monotonic() - started))

    def component_env(self) -> dict:
        keys = ["LMS_TEST_REDIS_URL", "LMS_TEST_KERNEL_IMAGE", "LMS_TEST_CHROMIUM", "DOCKER_HOST"]
        return {key: self.services[key] for key in keys if key in self.services}

    def newest_python(self) -> str | None:
        explicit = os.environ.get("LMS_NEWEST_PYTHON")
        candidates = [explicit] if explicit else []
        candidates += [shutil.which(name) for name in ("python3.13", "python3.12")]
        pyenv = sorted(
            glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3")),
            key=lambda path: [
                int(part) for part in Path(path).parents[1].name.split(".")[:3] if part.isdigit()
            ],
            reverse=True,
        )
        candidates += pyenv
        for candidate in candidates:
            if not candidate:
                continue
            probe = subprocess.run(
                [candidate, "-c", "import sys, venv; print(sys.version_info >= (3, 12))"],
                capture_output=True,
                text=True,
                check=False,
            )
            if probe.returncode == 0 and probe.stdout.strip() == "True":
                return candidate
        return None

    def newest_line(self, env: dict) -> None:
        if "newest" in self.args.skip:
            self.note("newest", "skipped (--skip)")
            return
        interpreter = self.newest_python()
        if interpreter is None:
            self.note("newest", "not run: no Python 3.12+ on this machine")
            return
        python = NEWEST_VENV / "bin" / "python"
        if not python.exists():
            ok = self.run(
                "newest:venv",
                [
                    str(VENV_BIN / "python"),
                    "-m",
                    "uv",
                    "venv",
                    "-q",
                    "--python",
                    interpreter,
                    str(NEWEST_VENV),
                ],
            )
            if not ok:
                return
        ok = self.run(
            "newest:install",
            [
                str(VENV_BIN / "python"),
                "-m",
                "uv",
                "pip",
                "install",
                "-q",
                "--python",
                str(python),
                "-e",
                ".[all,test]",
                "Django>=6.0,<6.2",
            ],
        )
        if not ok:
            return
        version = subprocess.run(
            [
                str(python),
                "-c",
                "import sys, django; print(f'Python {sys.version.split()[0]}, Django {django.get_version()}')",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        self.pytest(
            f"newest ({version}, SQLite)",
            "-q",
            "-m",
            "not postgres and not docker and not browser and not slow",
            env=env,
            python=python,
        )

    def wheel(self, python: str) -> None:
        """The sdist and wheel, and each extra alone installed from the wheel; each leg's time in the summary."""
        report = Path(tempfile.mkstemp(prefix="groundup-wheel-", suffix=".json")[1])
        jobs = str(max(2, min(3, os.cpu_count() or 1)))
        command = [python, str(ROOT / "scripts" / "wheel_smoke.py"), "--jobs", jobs, "--report", str(report)]
        self.run("wheel", command)
        try:
            legs = json.loads(report.read_text() or "[]")
        except ValueError:
            legs = []
        report.unlink(missing_ok=True)
        for leg in legs:
            self.results.append((f"  wheel: {leg['extra']}", leg["status"], leg["seconds"]))

    def frontend(self) -> None:
        """Build the Jupyter block's bundle from its lockfile; fail if the committed bundle differs."""
        if "frontend" in self.args.skip:
            self.note("frontend", "skipped (--skip)")
            return
        node, npm = shutil.which("node"), shutil.which("npm")
        if node is None or npm is None:
            self.note(
                "frontend", "FAILED (node/npm missing, CI=true)" if IN_CI else "not run: node/npm missing"
            )
            return
        env = {"npm_config_update_notifier": "false", "npm_config_fund": "false", "npm_config_audit": "false"}
        if self.run("frontend:npm-ci", [npm, "ci"], cwd=FRONTEND, env=env):
            self.run("frontend:bundle", [node, "build.mjs", "--check"], cwd=FRONTEND)

    def all_steps(self) -> int:
        self.bring_up_services()
        env = self.component_env()
        python = str(VENV_BIN / "python")
        self.run("ruff", [str(VENV_BIN / "ruff"), "check", "."])
        self.run("ruff-format", [str(VENV_BIN / "ruff"), "format", "--check", "."])
        self.frontend()
        self.run("import-contract", [str(VENV_BIN / "lint-imports")], env={"PYTHONPATH": str(ROOT / "src")})
        self.run(
            "migrations",
            [python, "manage.py", "makemigrations", "--check", "--dry-run"],
            cwd=ROOT / "example_project",
            env={"DJANGO_SQLITE_PATH": ":memory:"},
        )
        self.run(
            "docs",
            [
                str(VENV_BIN / "sphinx-build"),
                "-W",
                "--keep-going",
                "-q",
                "-b",
                "html",
                "docs",
                "docs/_build/html",
            ],
        )
        self.pytest("pytest: all apps, SQLite", "-m", "not postgres", env=env)
        for project, paths in APP_ALONE.items():
            self.pytest(
                f"pytest: {project}",
                "-q",
                "-m",
                # The slow tests (real server processes, real clients) run in the first leg, the postgres ones
                # in the PostgreSQL leg.
                "not slow and not postgres",
                f"--ds=tests.projects.{project}.settings",
                *paths,
                "tests/test_project.py",
                env=env,
            )
        database_url = self.services.get("LMS_TEST_DATABASE_URL")
        if database_url:
            self.pytest(
                "pytest: all apps, PostgreSQL",
                "-q",
                "-m",
                "not docker and not browser and not slow",
                env={**env, "LMS_TEST_DATABASE_URL": database_url},
            )
        elif IN_CI:
            self.note("pytest: all apps, PostgreSQL", "FAILED (PostgreSQL is missing, CI=true)")
        else:
            self.note("pytest: all apps, PostgreSQL", "not run: PostgreSQL is missing")
        self.wheel(python)
        self.newest_line(env)
        self.stop_services()
        return self.summary()

    def stop_services(self) -> None:
        """Stop what ``services.py up`` started for this run (never a server it merely reused), so that the run
        leaves nothing running: ``--keep-services`` keeps them up for the next run."""
        if self.args.no_services or self.args.keep_services:
            self.note(
                "services: down",
                "not run (" + ("--no-services" if self.args.no_services else "--keep-services") + ")",
            )
            return
        self.run("services: down", [sys.executable, str(ROOT / "scripts" / "services.py"), "down"])

    def summary(self) -> int:
        self.collect_leftovers("the run")
        if self.leftovers:
            status = f"{len(self.leftovers)} left running, killed"
            self.note("left-over processes", f"FAILED ({status}, CI=true)" if IN_CI else status)
        self.banner("summary")
        width = max(len(name) for name, _, _ in self.results)
        for name, status, elapsed in self.results:
            print(f"  {name:<{width}}  {elapsed:7.1f} s  {status}")
        missing = self.services.get("missing", {})
        if missing:
            print("\nComponents that were missing:")
            for name, reason in sorted(missing.items()):
                print(f"  {name}: {reason}")
        if self.leftovers:
            print("\nProcesses left running after their step (killed):")
            for step, leftover in self.leftovers:
                print(f"  after {step}: {leftover}")
        skipped = {}
        for line in self.missing_report.read_text().splitlines():
            entry = json.loads(line)
            skipped.setdefault(entry["component"], set()).update(entry["tests"])
        self.missing_report.unlink(missing_ok=True)
        if skipped:
            verdict = "failed (CI=true)" if IN_CI else "skipped"
            print(f"\nTests {verdict} because a component was missing:")
            for name, tests in sorted(skipped.items()):
                print(f"  {name}: {len(tests)} test(s), e.g. {sorted(tests)[0]}")
        failed = [name for name, status, _ in self.results if status.startswith("FAILED")]
        if failed:
            print(f"\nFAILED: {', '.join(failed)}")
            return 1
        print("\nAll steps passed.")
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-services", action="store_true", help="do not start PostgreSQL/Redis/Docker")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install missing components")
    parser.add_argument(
        "--keep-services",
        action="store_true",
        help="leave PostgreSQL/Redis/Docker running at the end (by default the run stops what it started)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="STEP",
        help="skip a step: ruff, ruff-format, frontend, import-contract, migrations, docs, pytest, wheel, newest",
    )
    parser.add_argument("pytest_args", nargs="*", help="extra arguments for every pytest run (after --)")
    args = parser.parse_args()
    return Runner(args).all_steps()


if __name__ == "__main__":
    sys.exit(main())
