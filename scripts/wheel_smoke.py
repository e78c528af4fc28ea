#!/usr/bin/env python3
"""Prove the built packages the way an institution installs them.

1. Build the sdist, and the wheel from it, once (``uv build``).
2. Check the wheel's contents: the Jupyter block's bundle, templates, static files and compiled catalogues of
   every app, the license files, and no tests.
3. For each extra alone (``none``, ``kernels``, ``docker``, ``gateway``, ``cms``, ``surveys``): a fresh virtual
   environment with ``groundup_lms-*.whl[extra]`` installed from the wheel, a fresh ``django-admin
   startproject`` with just that app added as ``docs/apps/*/installation.md`` says, production-like settings
   (``DEBUG`` off, a long ``SECRET_KEY``, secure cookies, HSTS...), then ``check --deploy`` (any warning fails
   the leg, except those the leg expects), ``migrate`` and a smoke test with Django's test client.

The legs run in parallel. Usage::

    python scripts/wheel_smoke.py [--extras none,cms] [--jobs 3] [--keep] [--report FILE.json]

Needs ``uv`` (``python -m uv``, in the development environment) and the package index, or uv's cache.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("lms_common", "lms_core", "lms_kernels", "lms_cms_blocks", "lms_surveys")
TRANSLATED_APPS = ("lms_core", "lms_kernels", "lms_cms_blocks", "lms_surveys")
EXTRAS = ("none", "kernels", "docker", "gateway", "cms", "surveys")
HOST = "lms.example.org"

#: What each app puts in the wheel besides its Python modules.
REQUIRED_FILES = (
    "lms_cms_blocks/static/lms_cms_blocks/lms-jupyter.js",
    "lms_cms_blocks/static/lms_cms_blocks/lms-jupyter.css",
    "lms_cms_blocks/static/lms_cms_blocks/lms-jupyter.licenses.txt",
    *(f"{app}/locale/{lang}/LC_MESSAGES/django.mo" for app in TRANSLATED_APPS for lang in ("en", "ko")),
)
#: Each app's templates and static files, as globs over the package's directory in the source tree.
SHIPPED_GLOBS = ("templates/**/*", "static/**/*", "locale/**/*.mo")

# -- the settings each leg adds to a fresh ``startproject`` (from docs/apps/*/installation.md) -----------------

PRODUCTION = """
DEBUG = False
SECRET_KEY = {secret!r}
ALLOWED_HOSTS = [{host!r}]
SECURE_SSL_REDIRECT = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
STATIC_ROOT = BASE_DIR / "static-root"
"""

CORE = """
INSTALLED_APPS += [
    "rest_framework",
    "django_filters",
    "hijack",
    "hijack.contrib.admin",
    "lms_core.apps.BackgroundTaskConfig",
    "lms_core",
]
MIDDLEWARE += ["hijack.middleware.HijackUserMiddleware"]
HIJACK_PERMISSION_CHECK = "lms_core.hijack.can_hijack"
"""
CORE_URLS = """
urlpatterns += [
    path("core/", include("lms_core.urls")),
    path("hijack/", include("lms_core.hijack.urls")),
]
"""

KERNELS = """
INSTALLED_APPS += [
    "channels",
    "lms_common.apps.BackgroundTaskConfig",
    "lms_kernels",
]
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
ASGI_APPLICATION = "mysite.asgi.application"
"""
KERNELS_URLS = """
urlpatterns += [path("kernels/", include("lms_kernels.urls"))]
"""
KERNELS_ASGI = """
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from lms_kernels.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
"""
DOCKER = """
LMS_KERNELS = {
    "BACKENDS": {"docker": {"BACKEND": "lms_kernels.backends.docker.DockerBackend", "OPTIONS": {}}},
    "DEFAULT_BACKEND": "docker",
}
"""
GATEWAY = """
LMS_KERNELS = {
    "BACKENDS": {
        "gateway": {
            "BACKEND": "lms_kernels.backends.gateway.GatewayBackend",
            "OPTIONS": {"url": "https://gateway.internal:8888"},
        }
    },
    "DEFAULT_BACKEND": "gateway",
}
"""

CMS = """
INSTALLED_APPS += [
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "wagtail.api.v2",
    "modelcluster",
    "taggit",
    "rest_framework",
    "lms_cms_blocks",
    "lessons",
]
WAGTAIL_SITE_NAME = "My school"
WAGTAILADMIN_BASE_URL = "https://{host}"
"""
CMS_URLS = """
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.documents import urls as wagtaildocs_urls
from wagtail.documents.api.v2.views import DocumentsAPIViewSet
from wagtail.images.api.v2.views import ImagesAPIViewSet

from lms_cms_blocks.api import LessonPagesAPIViewSet

api_router = WagtailAPIRouter("wagtailapi")
api_router.register_endpoint("pages", LessonPagesAPIViewSet)
api_router.register_endpoint("images", ImagesAPIViewSet)
api_router.register_endpoint("documents", DocumentsAPIViewSet)

urlpatterns += [
    path("cms/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("api/v2/", api_router.urls),
    path("blocks/", include("lms_cms_blocks.urls")),
    path("", include(wagtail_urls)),
]
"""
LESSON_MODEL = """
from lms_cms_blocks.pages import AbstractLessonPage


class LessonPage(AbstractLessonPage):
    template = "lessons/lesson_page.html"
"""
LESSON_TEMPLATE = """{% load wagtailcore_tags %}<!doctype html>
<html><head><title>{{ page.title }}</title></head>
<body><main><h1>{{ page.title }}</h1>{% include_block page.body %}</main></body></html>
"""

SURVEYS = """
INSTALLED_APPS += [
    "rest_framework",
    "lms_surveys.apps.SurveyConfig",
    "lms_surveys",
]
"""
SURVEYS_URLS = """
urlpatterns += [path("surveys/", include("lms_surveys.urls"))]
"""


def docker_engine() -> bool:
    """Whether the Docker backend's default engine address (``DOCKER_HOST``, else the local socket) may answer."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return not host.startswith("unix://") or os.path.exists(host.removeprefix("unix://"))


#: extra -> (the app, settings, URLs, the check ids ``check --deploy`` must report and nothing else).
LEGS = {
    "none": ("lms_core", CORE, CORE_URLS, set()),
    # The kernels extra alone has only the local backend, which check --deploy rightly warns about.
    "kernels": ("lms_kernels", KERNELS, KERNELS_URLS, {"lms_kernels.W101"}),
    # Without an engine to talk to, the Docker backend is reported (W105): expected on a machine without Docker.
    "docker": (
        "lms_kernels",
        KERNELS + DOCKER,
        KERNELS_URLS,
        set() if docker_engine() else {"lms_kernels.W105"},
    ),
    "gateway": ("lms_kernels", KERNELS + GATEWAY, KERNELS_URLS, set()),
    "cms": ("lms_cms_blocks", CMS, CMS_URLS, set()),
    "surveys": ("lms_surveys", SURVEYS, SURVEYS_URLS, set()),
}

# -- the smoke test, run inside each leg's project with its virtual environment ---------------------------------

SMOKE = """
import gettext
import importlib
import os
import sys
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
import django

django.setup()

from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.test import Client
from django.test.utils import setup_test_environment
from django.utils import translation

APP, EXTRA = sys.argv[1], sys.argv[2]
setup_test_environment()
module = importlib.import_module(APP)
assert "site-packages" in module.__file__, f"{APP} is imported from {module.__file__}, not from the wheel"

User = get_user_model()
admin = User.objects.create_superuser("admin", "admin@example.org", "x")
learner = User.objects.create_user("learner", "learner@example.org", "x")


def client(user=None):
    c = Client(HTTP_HOST="lms.example.org", HTTP_X_FORWARDED_PROTO="https")
    if user is not None:
        c.force_login(user)
    return c


def expect(response, status, what):
    assert response.status_code == status, f"{what}: {response.status_code}, expected {status}: {response.content[:300]!r}"
    print(f"  {what}: {status}")
    return response


# The compiled Korean catalogue is installed and used.
mo = Path(module.__file__).parent / "locale" / "ko" / "LC_MESSAGES" / "django.mo"
with mo.open("rb") as fh:
    catalogue = {k: v for k, v in gettext.GNUTranslations(fh)._catalog.items() if isinstance(k, str) and k and v}
with translation.override("ko"):
    same = sum(translation.gettext(k) == v for k, v in catalogue.items())
assert catalogue and same >= 0.9 * len(catalogue), f"{APP}: {same} of {len(catalogue)} Korean messages translate"
print(f"  {APP} Korean catalogue: {same} of {len(catalogue)} messages")

expect(client().get("/admin/login/"), 200, "GET /admin/login/")

if APP == "lms_core":
    expect(client().get("/core/api/me/enrollments/"), 403, "anonymous GET /core/api/me/enrollments/")
    r = expect(client(learner).get("/core/api/me/enrollments/"), 200, "learner GET /core/api/me/enrollments/")
    body = r.json()
    assert (body.get("results", body) if isinstance(body, dict) else body) == [], body
    from django.urls import reverse
    from lms_core.avatars import avatar_key

    avatar = reverse("lms_core:avatar", args=[avatar_key(learner)])
    r = expect(client(learner).get(avatar), 200, "learner GET their avatar")
    assert r["Content-Type"] == "image/png", r["Content-Type"]

if APP == "lms_kernels":
    from mysite.asgi import application  # noqa: F401  (the documented ASGI application imports)

    expect(client().get("/kernels/api/kernelspecs"), 403, "anonymous GET /kernels/api/kernelspecs")
    r = expect(client(learner).get("/kernels/api/kernelspecs"), 200, "learner GET /kernels/api/kernelspecs")
    assert "python3" in r.json()["kernelspecs"], r.json()

if APP == "lms_cms_blocks":
    from lessons.models import LessonPage
    from wagtail.models import Page, Site

    assert finders.find("lms_cms_blocks/lms-jupyter.js"), "the Jupyter block's bundle is not a static file"
    home = Site.objects.get(is_default_site=True).root_page
    lesson = home.add_child(
        instance=LessonPage(
            title="First lesson",
            slug="first-lesson",
            body=[("markdown", "Hello *world*")],
        )
    )
    r = expect(client().get(lesson.url), 200, f"GET {lesson.url}")
    assert b"<em>world</em>" in r.content, r.content[:500]
    expect(client(admin).get("/cms/"), 200, "admin GET /cms/")
    r = expect(client().get(f"/api/v2/pages/{lesson.pk}/"), 200, "GET /api/v2/pages/<lesson>/")
    assert r.json()["body"][0]["type"] == "markdown", r.json()

if APP == "lms_surveys":
    r = expect(client(learner).get("/surveys/api/contents/intro/surveys/"), 200, "learner GET contents/intro/surveys/")
    assert r.json() == [] or r.json().get("results") == [], r.json()
    expect(client(learner).get("/surveys/api/surveys/99/"), 404, "learner GET a missing survey")

print(f"smoke test of {APP} ({EXTRA}) passed")
"""


# -- helpers -----------------------------------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a leg's commands: nothing from the development environment leaks in."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE", "PYTHONHOME"}
    }
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", **extra}


def uv() -> list[str]:
    return [sys.executable, "-m", "uv"]


class LegFailed(Exception):
    pass


def sh(command: list[str], cwd: Path, log: list[str], timeout: float = 600) -> str:
    log.append(f"$ {' '.join(str(part) for part in command)}")
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    log.append(result.stdout.rstrip())
    if result.returncode != 0:
        raise LegFailed(
            f"{Path(str(command[0])).name} {' '.join(map(str, command[1:3]))}... exited {result.returncode}"
        )
    return result.stdout


# -- build and contents ------------------------------------------------------------------------------------------


def build(out: Path) -> tuple[Path, Path]:
    """The sdist, and the wheel built from it."""
    subprocess.run([*uv(), "build", "-q", "--out-dir", str(out), str(ROOT)], check=True, cwd=ROOT)
    (sdist,) = out.glob("groundup_lms-*.tar.gz")
    (wheel,) = out.glob("groundup_lms-*.whl")
    return sdist, wheel


def check_contents(wheel: Path) -> list[str]:
    """What is wrong with the wheel's contents (an empty list when nothing is)."""
    names = set(zipfile.ZipFile(wheel).namelist())
    problems = [f"missing {name}" for name in REQUIRED_FILES if name not in names]
    for app in APPS:
        package = ROOT / "src" / app
        if not any(name.startswith(f"{app}/") for name in names):
            problems.append(f"no {app} package")
        for pattern in SHIPPED_GLOBS:
            for path in package.glob(pattern):
                if path.is_file() and path.parts[-2:] != ("frontend",):
                    name = path.relative_to(ROOT / "src").as_posix()
                    if "/frontend/" not in name and name not in names:
                        problems.append(f"missing {name}")
    dist_info = {name.split("/", 1)[0] for name in names if ".dist-info/" in name}
    if not any(re.search(r"\.dist-info/(licenses/)?LICEN[CS]E", name) for name in names):
        problems.append(f"no license file in {', '.join(sorted(dist_info))}")
    tests = sorted(
        name
        for name in names
        if name.split("/", 1)[0] in {"tests", "test"} or re.search(r"(^|/)(test_[^/]*|conftest)\.py$", name)
    )
    problems += [f"a test in the wheel: {name}" for name in tests]
    problems += [f"a front-end source in the wheel: {name}" for name in sorted(names) if "/frontend/" in name]
    return problems


# -- one leg -----------------------------------------------------------------------------------------------------


def run_leg(extra: str, wheel: Path, workdir: Path) -> dict:
    app, settings, urls, expected = LEGS[extra]
    started = time.monotonic()
    log: list[str] = []
    leg = workdir / extra
    leg.mkdir()
    venv = leg / "venv"
    python = venv / "bin" / "python"
    requirement = str(wheel) if extra == "none" else f"{wheel}[{extra}]"
    try:
        sh([*uv(), "venv", "-q", "--python", sys.executable, venv], leg, log)
        sh([*uv(), "pip", "install", "-q", "--python", python, requirement], leg, log)
        project = leg / "project"
        project.mkdir()
        sh([venv / "bin" / "django-admin", "startproject", "mysite", project], leg, log)
        site = project / "mysite"
        if app == "lms_cms_blocks":
            sh([python, "manage.py", "startapp", "lessons"], project, log)
            (project / "lessons" / "models.py").write_text(LESSON_MODEL)
            templates = project / "lessons" / "templates" / "lessons"
            templates.mkdir(parents=True)
            (templates / "lesson_page.html").write_text(LESSON_TEMPLATE)
        with (site / "settings.py").open("a") as fh:
            fh.write(PRODUCTION.format(secret=secrets.token_urlsafe(64), host=HOST))
            fh.write(settings.replace("{host}", HOST))
        with (site / "urls.py").open("a") as fh:
            fh.write("\nfrom django.urls import include  # noqa: E402\n" + urls)
        if app == "lms_kernels":
            (site / "asgi.py").write_text(KERNELS_ASGI)
        if app == "lms_cms_blocks":
            sh([python, "manage.py", "makemigrations", "lessons"], project, log)
        output = sh([python, "manage.py", "check", "--deploy"], project, log)
        found = set(re.findall(r"\((\w[\w.]*\.[EWCI]\d{3})\)", output))
        if found != expected:
            unexpected, absent = found - expected, expected - found
            raise LegFailed(
                "check --deploy: "
                + "; ".join(
                    part
                    for part in (
                        f"unexpected {', '.join(sorted(unexpected))}" if unexpected else "",
                        f"expected {', '.join(sorted(absent))} missing" if absent else "",
                    )
                    if part
                )
            )
        sh([python, "manage.py", "migrate", "-v", "0"], project, log)
        (project / "smoke.py").write_text(SMOKE)
        smoke = sh([python, "smoke.py", app, extra], project, log)
        status = "ok"
        log[:] = smoke.rstrip().splitlines()
    except (LegFailed, subprocess.TimeoutExpired) as exc:
        status = f"FAILED ({exc})"
    return {"extra": extra, "app": app, "status": status, "seconds": time.monotonic() - started, "log": log}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--extras", default=",".join(EXTRAS), help=f"comma-separated, from {', '.join(EXTRAS)}"
    )
    parser.add_argument("--jobs", type=int, default=3, help="legs at once (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (its path is printed)")
    parser.add_argument("--report", type=Path, help="write the results as JSON to this file")
    args = parser.parse_args()
    extras = [extra.strip() for extra in args.extras.split(",") if extra.strip()]
    unknown = sorted(set(extras) - set(EXTRAS))
    if unknown:
        parser.error(f"unknown extra(s): {', '.join(unknown)}")

    workdir = Path(tempfile.mkdtemp(prefix="groundup-wheel-"))
    results = []
    try:
        started = time.monotonic()
        sdist, wheel = build(workdir / "dist")
        print(f"built {sdist.name} and {wheel.name} in {time.monotonic() - started:.1f} s", flush=True)
        problems = check_contents(wheel)
        print("wheel contents: " + ("ok" if not problems else "; ".join(problems)), flush=True)
        results.append(
            {
                "extra": "contents",
                "app": wheel.name,
                "status": "ok" if not problems else "FAILED (" + "; ".join(problems[:5]) + ")",
                "seconds": time.monotonic() - started,
                "log": problems,
            }
        )
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for result in pool.map(lambda extra: run_leg(extra, wheel, workdir), extras):
                results.append(result)
                print(f"  {result['extra']:<8} {result['seconds']:6.1f} s  {result['status']}", flush=True)
                print(textwrap.indent("\n".join(result["log"])[-6000:], "    | "), flush=True)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.report:
        args.report.write_text(json.dumps([{k: v for k, v in r.items() if k != "log"} for r in results]))
    failed = [r["extra"] for r in results if r["status"] != "ok"]
    print("wheel: " + (f"FAILED: {', '.join(failed)}" if failed else "all legs passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
