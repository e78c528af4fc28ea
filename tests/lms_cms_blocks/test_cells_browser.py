"""The Jupyter block in a real browser: Chromium against the example project under uvicorn, local kernels.

A learner opens a lesson, edits and runs cells (``42``, a PNG plot, a traceback, an ``input()`` prompt, hostile
HTML), and finds their code and outputs again after a reload; "reset to original" brings the original back.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import re
import secrets
import signal
import textwrap
from pathlib import Path

import psutil
import pytest

from lms_kernels.testing.servers import AsgiServer, run_django_command
from tests.conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SETTINGS_MODULE = "tests.lms_cms_blocks.cells_site.settings"
TIMEOUT_MS = 60_000

ORIGINAL_ANSWER = "answer = 6 * 7\nprint(answer)"
PLOT = textwrap.dedent(
    """\
    # Image and ImageDraw come from the block's hidden setup code.
    image = Image.new("RGB", (240, 160), "white")
    draw = ImageDraw.Draw(image)
    draw.line([(20 + 20 * x, 140 - (x * x) * 12 // 10) for x in range(11)], fill="navy", width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    display(IPImage(data=buffer.getvalue()))
    """
)
SETUP = "import io\nfrom PIL import Image, ImageDraw\nfrom IPython.display import Image as IPImage, display"
HOSTILE = (
    "from IPython.display import HTML\n"
    'HTML("<b id=\'bold\'>bold</b><img src=x onerror=\\"window.pwned=1\\"><script>window.pwned=2</script>")'
)


def _tiny_jpeg() -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), "teal").save(buffer, format="JPEG")
    return base64.b64encode(buffer.getvalue()).decode()


#: Precomputed outputs of every kind, several of them hostile: shown (and sanitized) before anything runs.
GALLERY = [
    {"output_type": "stream", "name": "stderr", "text": "\x1b[31mred warning\x1b[0m\n"},
    {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20" onload="window.pwned=4">'
            '<script>window.pwned=5</script><circle id="dot" cx="10" cy="10" r="8" fill="red"/></svg>'
        },
    },
    {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "text/markdown": '# Gallery\n\n**strong words** <img src="data:," onerror="window.pwned=6">'
        },
    },
    {"output_type": "display_data", "metadata": {}, "data": {"text/latex": "$$x^2 + y^2$$"}},
    {"output_type": "display_data", "metadata": {}, "data": {"image/jpeg": _tiny_jpeg()}},
    {
        "output_type": "execute_result",
        "execution_count": 1,
        "metadata": {},
        "data": {"text/plain": "'plain text'"},
    },
    {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "application/javascript": "window.pwned=7",
            "text/plain": "<IPython.core.display.Javascript object>",
        },
    },
    {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "text/html": '<a id="js" href="javascript:window.pwned=8">link</a><style>body{display:none}</style>'
        },
    },
]
CAP = 'print("x" * 150_000)'

CREATE = """
from django.contrib.auth import get_user_model
from tests.lms_cms_blocks.cells_helpers import make_lesson
get_user_model().objects.create_user("learner", password="learner-pw")
page = make_lesson(title="Cells in a browser", slug="cells", body=[
    ("jupyter", {"source": %(answer)r, "environment": "python3", "check_code": "assert answer == 42"}),
    ("jupyter", {"source": %(plot)r, "environment": "python3", "setup_code": %(setup)r}),
    ("jupyter", {"source": "1 / 0", "environment": "python3"}),
    ("jupyter", {"source": "name = input('Your name? ')\\nprint('Hello, ' + name)", "environment": "python3"}),
    ("jupyter", {"source": %(hostile)r, "environment": "python3",
                 "outputs": [{"output_type": "display_data", "metadata": {},
                              "data": {"text/html": "<i id='pre'>precomputed</i><script>window.pwned=3</script>",
                                       "text/plain": "precomputed"}}]}),
    ("jupyter", {"source": "# outputs of every kind", "environment": "python3", "outputs": %(gallery)r}),
    ("jupyter", {"source": %(cap)r, "environment": "python3"}),
])
"""


class Lesson:
    def __init__(self, tmp_path: Path, settings_module: str = SETTINGS_MODULE):
        self.tmp_path = tmp_path
        self.settings_module = settings_module
        self.runtime = tmp_path / "jupyter-runtime"
        python_path = [str(ROOT / "src"), str(ROOT), str(ROOT / "example_project")]
        if os.environ.get("PYTHONPATH"):
            python_path.append(os.environ["PYTHONPATH"])
        self.env = {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SERVE_STATIC": "1",
            "DJANGO_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
            "DATABASE_URL": None,
            "REDIS_URL": None,
            "JUPYTER_RUNTIME_DIR": str(self.runtime),
            "PYTHONPATH": os.pathsep.join(python_path),
        }
        self.server: AsgiServer | None = None

    def manage(self, *args: str) -> str:
        return run_django_command(*args, settings_module=self.settings_module, cwd=ROOT, env=self.env)

    def start(self) -> str:
        self.manage("migrate", "--no-input", "-v", "0")
        script = CREATE % {
            "answer": ORIGINAL_ANSWER,
            "plot": PLOT,
            "setup": SETUP,
            "hostile": HOSTILE,
            "gallery": GALLERY,
            "cap": CAP,
        }
        self.manage("shell", "-c", script)
        self.server = AsgiServer(
            "groundup_site.asgi:application",
            settings_module=self.settings_module,
            cwd=ROOT,
            env=self.env,
            ready_path="/healthz",
            start_timeout=90,
            log_path=self.tmp_path / "server.log",
        )
        self.server.start()
        return self.server.url

    def close(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.stop()
        marker = str(self.runtime)
        for proc in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
                if any(marker in part for part in proc.info["cmdline"] or ()):
                    os.killpg(proc.pid, signal.SIGKILL)  # a local kernel leads its own process group
        if self.server is not None:
            print(f"----- server.log -----\n{self.server.log_text()[-20000:]}")


@pytest.fixture
def lesson_site(tmp_path):
    site = Lesson(tmp_path)
    try:
        yield site.start()
    finally:
        site.close()


@pytest.fixture
def one_slot_site(tmp_path):
    site = Lesson(tmp_path, "tests.lms_cms_blocks.cells_site.settings_one_slot")
    try:
        site.start()
        yield site
    finally:
        site.close()


@pytest.fixture
def browser(chromium_executable):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


def log_in(page, url: str) -> None:
    page.goto(url + "/accounts/login/")
    page.get_by_label("Username").fill("learner")
    page.get_by_label("Password").fill("learner-pw")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def editor_text(cell) -> str:
    return cell.locator(".cm-content").evaluate(
        "el => el.cmView ? el.cmView.view.state.doc.toString() : el.innerText"
    )


def replace_code(page, cell, code: str) -> None:
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(code)


def watch_status(cell) -> None:
    """Report every text of the cell's kernel status to ``window.recordStatus``."""
    cell.locator(".lms-jupyter-status").evaluate(
        "el => new MutationObserver(() => window.recordStatus(el.textContent))"
        ".observe(el, {childList: true, characterData: true, subtree: true})"
    )


def wait_for_status(page, statuses: list[str], text: str) -> None:
    for _ in range(TIMEOUT_MS // 50):
        if text in statuses:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"the status never read {text!r}: {statuses}")


def wait_saved(cell) -> None:
    cell.locator('.lms-jupyter-save[data-state="saved"]').wait_for(timeout=TIMEOUT_MS)


def test_learner_runs_cells_and_finds_them_after_reload(lesson_site, browser, artifacts_dir: Path):
    from playwright.sync_api import expect

    url = lesson_site
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None,
    )
    page.on("dialog", lambda dialog: dialog.accept())

    page.goto(url + "/accounts/login/")
    page.get_by_label("Username").fill("learner")
    page.get_by_label("Password").fill("learner-pw")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    page.goto(url + "/lessons/cells/")
    page.locator('html[data-lms-jupyter="ready"]').wait_for()
    cells = page.locator(".lms-jupyter-cell")
    expect(cells).to_have_count(7)
    answer, plot, error, ask, hostile, gallery, capped = (cells.nth(i) for i in range(7))
    # Before anything runs: the original code, the precomputed outputs (sanitized), no kernel yet.
    expect(answer.locator(".cm-content")).to_contain_text("answer = 6 * 7")
    expect(answer.locator(".lms-jupyter-status")).to_have_text("No kernel yet")
    expect(hostile.locator(".lms-jupyter-outputs i#pre")).to_have_text("precomputed")
    assert page.evaluate("window.pwned") is None
    shown = gallery.locator(".lms-jupyter-outputs")
    expect(shown.locator("span.ansi-red-fg")).to_have_text("red warning")
    expect(shown.locator("svg circle#dot")).to_have_count(1)
    expect(shown.locator("h1")).to_have_text("Gallery")
    expect(shown.locator("strong")).to_have_text("strong words")
    expect(shown.locator("math")).to_have_count(1)
    expect(shown.locator('img[src^="data:image/jpeg;base64,"]')).to_have_count(1)
    expect(shown).to_contain_text("'plain text'")
    expect(shown).to_contain_text("<IPython.core.display.Javascript object>")
    expect(shown.locator("a#js")).to_have_text("link")
    assert shown.locator("a#js").get_attribute("href") is None
    expect(shown.locator("script, style, [onload], [onerror]")).to_have_count(0)
    assert page.evaluate("getComputedStyle(document.body).display") == "block"

    # Edit, then Shift+Enter: the kernel starts ("Starting…" first), prints 42, and the hidden check passes.
    replace_code(page, answer, "answer = 40 + 2\nprint(answer)")
    statuses = []
    page.expose_function("recordStatus", lambda text: statuses.append(text))
    watch_status(answer)
    page.keyboard.press("Shift+Enter")
    expect(answer.locator(".lms-jupyter-outputs")).to_have_text("42")
    expect(answer.locator(".lms-jupyter-check")).to_have_text("✓ Check passed")
    expect(answer.locator(".lms-jupyter-status")).to_have_text("Idle")
    assert "Starting…" in statuses, statuses

    # Tab indents (and Shift+Tab takes it back) in the editor.
    error.locator(".cm-content").click()
    page.keyboard.press("Control+Home")
    page.keyboard.press("Tab")
    assert editor_text(error).startswith("    1 / 0")
    page.keyboard.press("Shift+Tab")
    assert editor_text(error) == "1 / 0"

    # A PNG plot, drawn with names the hidden setup code imported.
    plot.get_by_role("button", name="Run", exact=True).click()
    image = plot.locator('.lms-jupyter-outputs img[src^="data:image/png;base64,"]')
    expect(image).to_have_count(1)
    page.wait_for_function("img => img.complete && img.naturalWidth === 240", arg=image.element_handle())

    # A traceback, with the exception named.
    error.get_by_role("button", name="Run", exact=True).click()
    expect(error.locator(".lms-jupyter-error")).to_contain_text("ZeroDivisionError")

    # input(): the prompt appears, the learner answers.
    ask.get_by_role("button", name="Run", exact=True).click()
    field = ask.get_by_label("Your name?")
    field.fill("Ada")
    field.press("Enter")
    expect(ask.locator(".lms-jupyter-outputs")).to_contain_text("Hello, Ada")

    # Hostile HTML output: the markup shows, its script and event handlers never run.
    hostile.get_by_role("button", name="Run", exact=True).click()
    expect(hostile.locator(".lms-jupyter-outputs b#bold")).to_have_text("bold")
    expect(hostile.locator(".lms-jupyter-outputs script")).to_have_count(0)
    page.wait_for_timeout(300)
    assert page.evaluate("window.pwned") is None

    # Output past the kernel service's output cap: cut, with a visible notice.
    capped.get_by_role("button", name="Run", exact=True).click()
    expect(capped.locator('.lms-jupyter-notice[data-notice="output_cap"]')).to_contain_text(
        "Output limit reached"
    )
    page.evaluate("document.querySelector('a#js') && document.querySelector('a#js').click()")
    assert page.evaluate("window.pwned") is None

    # All cells share the learner's one kernel for this lesson.
    sessions = page.evaluate("fetch('/kernels/api/sessions').then(r => r.json())")
    assert len(sessions) == 1, sessions
    assert sessions[0]["path"].startswith("lessons/")
    for cell in (answer, plot, error, ask, hostile, capped):
        wait_saved(cell)
    page.screenshot(path=str(artifacts_dir / "cells-lesson-run.png"), full_page=True)

    # Reload: the edited code, every output and the pass are back.
    page.reload()
    page.locator('html[data-lms-jupyter="ready"]').wait_for()
    expect(answer.locator(".cm-content")).to_contain_text("answer = 40 + 2")
    expect(answer.locator(".lms-jupyter-outputs")).to_have_text("42")
    expect(answer.locator(".lms-jupyter-check")).to_have_text("✓ Check passed")
    expect(plot.locator('.lms-jupyter-outputs img[src^="data:image/png;base64,"]')).to_have_count(1)
    expect(error.locator(".lms-jupyter-error")).to_contain_text("ZeroDivisionError")
    expect(ask.locator(".lms-jupyter-outputs")).to_contain_text("Hello, Ada")
    expect(hostile.locator(".lms-jupyter-outputs b#bold")).to_have_text("bold")
    expect(capped.locator('.lms-jupyter-notice[data-notice="output_cap"]')).to_have_count(1)
    assert page.evaluate("window.pwned") is None
    # The page found the learner's running kernel for the lesson again: its variables are still there.
    expect(answer.locator(".lms-jupyter-status")).to_have_text("Idle")
    replace_code(page, error, "print(answer * 2)")
    error.get_by_role("button", name="Run", exact=True).click()
    expect(error.locator(".lms-jupyter-outputs")).to_have_text("84")

    # Restart: the variables are gone, and the hidden setup code runs again before the block's next run.
    watch_status(plot)
    statuses.clear()
    plot.get_by_role("button", name="Restart").click()
    wait_for_status(page, statuses, "Restarting…")
    expect(plot.locator(".lms-jupyter-status")).to_have_text("Idle")
    error.get_by_role("button", name="Run", exact=True).click()
    expect(error.locator(".lms-jupyter-error")).to_contain_text("NameError")
    plot.get_by_role("button", name="Run", exact=True).click()
    expect(plot.locator('.lms-jupyter-outputs img[src^="data:image/png;base64,"]')).to_have_count(1)
    expect(plot.locator(".lms-jupyter-error")).to_have_count(0)

    # Another device (a new browser context, logged in anew) finds the same.
    other = browser.new_context()
    other_page = other.new_page()
    other_page.goto(url + "/accounts/login/")
    other_page.get_by_label("Username").fill("learner")
    other_page.get_by_label("Password").fill("learner-pw")
    other_page.get_by_role("button", name="Log in").click()
    other_page.wait_for_load_state()
    other_page.goto(url + "/lessons/cells/")
    other_page.locator('html[data-lms-jupyter="ready"]').wait_for()
    expect(other_page.locator(".lms-jupyter-cell").first.locator(".cm-content")).to_contain_text(
        "answer = 40 + 2"
    )
    other.close()

    # Interrupt stops a long run.
    replace_code(page, error, "import time\nprint('sleeping', flush=True)\ntime.sleep(120)")
    error.get_by_role("button", name="Run", exact=True).click()
    expect(error.locator(".lms-jupyter-outputs")).to_contain_text("sleeping")
    expect(error.locator(".lms-jupyter-status")).to_have_text("Busy")
    error.get_by_role("button", name="Interrupt").click()
    expect(error.locator(".lms-jupyter-error")).to_contain_text("KeyboardInterrupt")
    expect(error.locator(".lms-jupyter-status")).to_have_text("Idle")

    # Reset to original: the original code and no outputs, also after a reload; the pass stays.
    answer.get_by_role("button", name="Reset to original").click()
    expect(answer.locator(".lms-jupyter-save")).to_have_text("Original code restored")
    assert editor_text(answer) == ORIGINAL_ANSWER
    page.reload()
    page.locator('html[data-lms-jupyter="ready"]').wait_for()
    assert editor_text(answer) == ORIGINAL_ANSWER
    expect(answer.locator(".lms-jupyter-outputs")).to_be_empty()
    expect(answer.locator(".lms-jupyter-check")).to_have_text("✓ Check passed")
    page.screenshot(path=str(artifacts_dir / "cells-lesson-reloaded.png"), full_page=True)
    # The hostile <img src=x> loads (and misses) its image each time it is shown; nothing else may fail.
    unexpected = [e for e in errors if not re.search(r"/lessons/cells/x/?$", e) and "status of 404" not in e]
    assert unexpected == []
    context.close()


def test_a_queued_kernel_shows_its_place_then_runs(one_slot_site, browser):
    """With room for one kernel, held by another user, the learner's Run waits in the queue and says so."""
    from playwright.sync_api import expect

    site = one_slot_site
    url = site.server.url
    site.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; get_user_model().objects.create_user('holder')",
    )
    token = site.manage("lms_kernels_token", "holder").strip().splitlines()[-1]
    held = api_call(url, "POST", "/kernels/api/kernels", token, {"name": "python3"})
    assert held.get("queue_position") is None, held

    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    log_in(page, url)
    page.goto(url + "/lessons/cells/")
    page.locator('html[data-lms-jupyter="ready"]').wait_for()
    answer = page.locator(".lms-jupyter-cell").first
    answer.get_by_role("button", name="Run", exact=True).click()
    expect(answer.locator(".lms-jupyter-status")).to_have_text(
        "Waiting for a free kernel: number 1 in the queue", timeout=TIMEOUT_MS
    )
    api_call(url, "DELETE", f"/kernels/api/kernels/{held['id']}", token)
    expect(answer.locator(".lms-jupyter-outputs")).to_contain_text("42", timeout=TIMEOUT_MS)
    expect(answer.locator(".lms-jupyter-check")).to_have_text("✓ Check passed")
    expect(answer.locator(".lms-jupyter-status")).to_have_text("Idle")
    context.close()


def api_call(url: str, method: str, path: str, token: str, body: dict | None = None) -> dict:
    import json
    import urllib.request

    request = urllib.request.Request(
        url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=60) as response:
        text = response.read().decode()
    return json.loads(text) if text else {}
