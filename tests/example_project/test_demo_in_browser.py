"""The demo command serves the site (uvicorn + the task worker) and Chromium can use it."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.example_project.conftest import watch_for_errors

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_learner_logs_in_on_the_demo_site(demo_site, browser, artifacts_dir: Path):
    url, process, log_path = demo_site
    text = log_path.read_text()
    assert "username 'learner'" in text and "password 'groundup-learner'" in text
    assert "background-task worker is running" in text

    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors = []
    watch_for_errors(page, errors)
    page.goto(url)
    assert page.title() == "Groundup LMS"
    # The stylesheet was served by the ASGI app (static files in the demo).
    brand_colour = page.eval_on_selector(".brand", "el => getComputedStyle(el).color")
    assert brand_colour == "rgb(27, 124, 131)"

    page.get_by_role("link", name="Log in to start learning").click()
    page.get_by_label("Username").fill("learner")
    page.get_by_label("Password").fill("groundup-learner")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url)
    assert page.get_by_text("Welcome, Minjun Lee.").is_visible()
    # The demo learner is behind in the instructor-paced cohort: the dashboard says so, with the next due item.
    card = page.locator("article.enrollment")
    assert "AI 기초" in card.locator("h3").inner_text()
    assert card.locator(".badge-delayed").inner_text() == "Delayed"
    assert card.locator("progress").get_attribute("value") == "25"
    assert "Overdue:" in card.inner_text()
    # The identicon avatar loaded as a real image.
    width = page.eval_on_selector("img.avatar", "img => img.complete ? img.naturalWidth : 0")
    assert width == 120
    page.screenshot(path=str(artifacts_dir / "demo-home-learner-phone.png"), full_page=True)

    admin = browser.new_page(viewport={"width": 1280, "height": 800})
    watch_for_errors(admin, errors)
    admin.goto(url + "admin/login/")
    admin.get_by_label("Username").fill("admin")
    admin.get_by_label("Password").fill("groundup-admin")
    admin.get_by_role("button", name="Log in").click()
    admin.wait_for_url(url + "admin/")
    assert admin.get_by_role("heading", name="Site administration").is_visible()
    admin.screenshot(path=str(artifacts_dir / "demo-admin.png"))
    assert errors == []
    assert process.poll() is None


def test_demo_command_stops_cleanly_and_is_idempotent(demo_site, tmp_path):
    _url, process, _log = demo_site
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0
    # A second run over the same database loads the same users again without errors.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "groundup_site.settings",
        "DJANGO_SQLITE_PATH": str(tmp_path / "demo.sqlite3"),
    }
    env.pop("DATABASE_URL", None)
    again = subprocess.run(
        [sys.executable, "manage.py", "groundup_demo", "--no-serve"],
        cwd=ROOT / "example_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("(reset)") == 3
