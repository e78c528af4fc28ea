"""Hostile outputs a learner saved, seen in Chromium by a staff member who impersonates them.

A learner's saved cell state is theirs to write: through the cell-state API they can store any output dict. The
outputs below try what a phishing learner would: hide the impersonation banner with a style sheet, restyle the
page, cover it with a fixed-position "Your session expired" box, run script and open links with a handle on the
page. The same outputs come back as an editor's precomputed outputs of another lesson. Staff who impersonate the
learner must see the site as it is, with the outputs inside their output areas. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.example_project.conftest import watch_for_errors
from tests.example_project.test_site_in_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SAVED_LESSON = "lessons/넘파이-기초/"
PRECOMPUTED_LESSON = "lessons/작은-신경망/"
PLAIN_LESSON = "lessons/행렬-곱-연습/"
FAKE = "Your session expired. Sign in again at https://groundup-login.example/"

#: Restyle the page: hide the banner, repaint the body, hide the header.
STYLE_SHEET = (
    "#djhj, .djhj { display: none !important; }"
    " body { background: rgb(176, 0, 32) !important; color: rgb(255, 255, 0) !important;"
    " font-family: monospace !important; }"
    " .site-header { visibility: hidden !important; }"
)
#: Cover the whole viewport, above everything.
COVER = "position: fixed; inset: 0; width: 100vw; height: 100vh; z-index: 2147483647; background: white;"

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
    f' width="400" height="120" style="{COVER}" onload="window.pwned = \'svg onload\'">'
    f"<style>{STYLE_SHEET}</style>"
    '<rect width="100%" height="100%" fill="white"/>'
    f'<text id="fake-svg" x="10" y="30" font-size="20">{FAKE}</text>'
    '<a href="https://groundup-login.example/svg"><text x="10" y="60">Sign in (href)</text></a>'
    '<a xlink:href="https://groundup-login.example/xlink"><text x="10" y="90">Sign in (xlink:href)</text></a>'
    '<a xlink:href="javascript:window.pwned=\'svg link\'"><text x="10" y="110">run</text></a>'
    "<script>window.pwned = 'svg script'</script>"
    "</svg>"
)
HTML = (
    f"<style>{STYLE_SHEET}</style>"
    '<link rel="stylesheet" href="data:text/css,body%7Bbackground:red%7D">'
    # The banner's own class brings the page's position: fixed with it; the inline style covers the page.
    f'<div class="djhj" id="fake-html" style="{COVER}">{FAKE}'
    ' <a href="https://groundup-login.example/html">Sign in</a></div>'
    '<div id="sticky-html" style="position: sticky; top: 0; z-index: 2147483647; background: white">sticky</div>'
    # Out of the output area by other means than position: fixed.
    '<div id="absolute-html" style="position: absolute; top: -400px; left: -400px; width: 3000px; height: 300px;'
    ' z-index: 2147483647; background: black"></div>'
    '<div id="shifted-html" style="margin-top: -2000px; height: 10px; transform: translate(0, -500px)"></div>'
    '<a id="js-html" href="javascript:window.pwned=\'html link\'">run</a>'
    "<img src=\"data:,\" onerror=\"window.pwned = 'html onerror'; alert('html')\">"
    "<script>window.pwned = 'html script'</script>"
    '<table style="border: 1px solid gray"><tr><td style="color: rgb(0, 128, 0)">kept cell</td></tr></table>'
)
MARKDOWN = (
    "# Notes\n\n"
    "See [the docs](https://example.org/markdown).\n\n"
    f"<style>{STYLE_SHEET}</style>\n\n"
    f'<div id="fake-markdown" style="{COVER}">{FAKE}</div>\n\n'
    "[run](javascript:window.pwned='markdown%20link')\n"
)
OUTPUTS = [
    {"output_type": "display_data", "metadata": {}, "data": {"image/svg+xml": SVG}},
    {"output_type": "display_data", "metadata": {}, "data": {"text/html": HTML}},
    {"output_type": "display_data", "metadata": {}, "data": {"text/markdown": MARKDOWN}},
]

SAVE_OUTPUTS = """async (outputs) => {
    const config = JSON.parse(document.getElementById("lms-jupyter-config").textContent);
    const blockId = document.querySelector(".lms-jupyter-cell").dataset.blockId;
    const response = await fetch(config.cellsApiUrl + encodeURIComponent(blockId), {
        method: "PATCH",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": config.csrfToken},
        body: JSON.stringify({outputs, execution_count: 1}),
    });
    return response.status;
}"""

#: What the page looks like, in computed styles the hostile outputs tried to change.
PAGE_STYLES = """() => {
    const pick = (el, names) => {
        if (!el) return null;
        const style = getComputedStyle(el);
        return Object.fromEntries(names.map((name) => [name, style.getPropertyValue(name)]));
    };
    return {
        body: pick(document.body, ["background-color", "background-image", "color", "font-family", "display"]),
        header: pick(document.querySelector(".site-header"), ["display", "visibility", "background-color"]),
        banner: pick(document.getElementById("djhj"),
            ["display", "visibility", "position", "z-index", "opacity", "bottom", "left", "transform"]),
        notification: pick(document.querySelector("#djhj .djhj-notification"),
            ["display", "visibility", "background-color", "color", "font-family"]),
    };
}"""

#: Whether the banner is what the user sees at its centre (nothing covers it).
BANNER_ON_TOP = """() => {
    const banner = document.getElementById("djhj");
    const box = banner.querySelector(".djhj-notification").getBoundingClientRect();
    if (box.width === 0 || box.height === 0) return "the banner has no size";
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    if (banner.contains(hit)) return "on top";
    return "covered by " + (hit ? hit.outerHTML.slice(0, 120) : "nothing");
}"""

#: Points of the viewport where an output's element is what the user sees, outside that output's area.
PAINTED_OUTSIDE = """() => {
    const escaped = [];
    for (let y = 2; y < innerHeight; y += 24) {
        for (let x = 2; x < innerWidth; x += 24) {
            const hit = document.elementFromPoint(x, y);
            const area = hit && hit.closest(".lms-jupyter-rich");
            if (!area) continue;
            const box = area.getBoundingClientRect();
            if (x < box.left || x > box.right || y < box.top || y > box.bottom) {
                escaped.push(`${x},${y}: ${hit.outerHTML.slice(0, 80)}`);
            }
        }
    }
    return escaped;
}"""

LINKS = """() => [...document.querySelectorAll(".lms-jupyter-rich a")].map((a) => ({
    namespace: a.namespaceURI,
    href: a.getAttribute("href") ?? a.getAttributeNS("http://www.w3.org/1999/xlink", "href"),
    target: a.getAttribute("target"),
    rel: a.getAttribute("rel"),
}))"""


PUT_PRECOMPUTED = """
import json, sys
from groundup_site.models import LessonPage
lesson = LessonPage.objects.get(slug=sys.argv[1])
for block in lesson.body:
    if block.block_type == "jupyter":
        block.value["outputs"] = json.loads(sys.stdin.read())
        break
lesson.save_revision().publish()
"""


def put_precomputed_outputs(db_path: Path, slug: str, outputs: list) -> None:
    """An editor's precomputed outputs for the first Jupyter block of a demo lesson (in the demo's database)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "groundup_site.settings",
        "DJANGO_SQLITE_PATH": str(db_path),
    }
    env.pop("DATABASE_URL", None)
    script = PUT_PRECOMPUTED.replace("sys.argv[1]", repr(slug))
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT / "example_project",
        env=env,
        input=json.dumps(outputs),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def assert_site_untouched(page, outputs, expected_styles: dict, artifacts_dir: Path, name: str) -> None:
    """What a staff member sees on a lesson with the hostile outputs: the site, with the outputs in their area."""
    page.screenshot(path=str(artifacts_dir / f"{name}-top.png"))
    # The learner's outputs are there, with what is harmless in them.
    assert outputs.locator(".lms-jupyter-rich").count() == 3
    assert outputs.locator("#fake-svg").count() == 1
    assert outputs.locator("td").evaluate("td => getComputedStyle(td).color") == "rgb(0, 128, 0)"
    assert outputs.locator("h1", has_text="Notes").count() == 1

    # The site's own look is untouched (banner, header, body) wherever the page is scrolled to.
    problems = []
    for scroll in ("top", "outputs", "bottom"):
        if scroll == "outputs":
            outputs.scroll_into_view_if_needed()
        elif scroll == "bottom":
            page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
        assert page.evaluate(PAGE_STYLES) == expected_styles, scroll
        assert page.locator("#djhj").is_visible()
        banner = page.evaluate(BANNER_ON_TOP)
        if banner != "on top":
            problems.append(f"{scroll}: banner {banner}")
        # Nothing of an output is painted outside its output area: no cover, no fake message over the page.
        problems += [f"{scroll}: {point}" for point in page.evaluate(PAINTED_OUTSIDE)]
        if scroll == "outputs":
            page.screenshot(path=str(artifacts_dir / f"{name}.png"))
    assert problems == []

    # The fake message is only ever inside the output area (where the learner's output belongs), not over the
    # page: the site's header is what the user sees where it is.
    page.evaluate("() => window.scrollTo(0, 0)")
    assert page.evaluate(
        """() => {
            const brand = document.querySelector(".site-header .brand").getBoundingClientRect();
            const hit = document.elementFromPoint(brand.left + brand.width / 2, brand.top + brand.height / 2);
            return hit !== null && hit.closest(".brand") !== null;
        }"""
    )

    # Links open in a new tab without a handle on the page; no javascript: link survives.
    links = outputs.evaluate(LINKS)
    hrefs = {link["href"] for link in links}
    assert {
        "https://groundup-login.example/svg",
        "https://groundup-login.example/xlink",
        "https://groundup-login.example/html",
        "https://example.org/markdown",
    } <= hrefs
    assert "http://www.w3.org/2000/svg" in {link["namespace"] for link in links}
    for link in links:
        assert not (link["href"] or "").lower().startswith("javascript:"), link
        if link["href"]:
            assert link["target"] == "_blank", link
            assert {"noopener", "noreferrer"} <= set((link["rel"] or "").split()), link

    # No script of the learner ran, no style sheet of theirs is in the page.
    assert page.evaluate("() => window.pwned") is None
    assert outputs.locator("style, link, script").count() == 0
    page.screenshot(path=str(artifacts_dir / f"{name}-full.png"), full_page=True)


def test_staff_impersonating_a_learner_see_the_site_not_the_outputs(
    demo_site, browser, artifacts_dir: Path, tmp_path: Path
):
    url, process, _log = demo_site
    errors: list[str] = []
    dialogs: list[str] = []

    # The learner saves hostile outputs for the lesson's first cell, through the cell-state API.
    learner_context = browser.new_context(viewport={"width": 1280, "height": 900})
    learner = learner_context.new_page()
    log_in(learner, url, "learner", "groundup-learner")
    learner.goto(url + SAVED_LESSON)
    learner.locator('html[data-lms-jupyter="ready"]').wait_for()
    assert learner.evaluate(SAVE_OUTPUTS, OUTPUTS) in (200, 201)
    learner_context.close()
    # The same outputs as an editor's precomputed outputs of another lesson (as a notebook import could bring).
    put_precomputed_outputs(tmp_path / "demo.sqlite3", PRECOMPUTED_LESSON.split("/")[1], OUTPUTS)

    # A staff member impersonates the learner.
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch_for_errors(page, errors)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, url, "admin", "groundup-admin", admin=True)
    page.goto(url + "admin/auth/user/?q=learner")
    page.locator("#result_list").get_by_role("button", name="Impersonate").click()
    page.wait_for_url(url)

    # How the site looks on a lesson without hostile outputs.
    page.goto(url + PLAIN_LESSON)
    page.locator('html[data-lms-jupyter="ready"]').wait_for()
    expected_styles = page.evaluate(PAGE_STYLES)
    assert expected_styles["banner"]["display"] != "none"
    assert expected_styles["header"]["visibility"] == "visible"

    for lesson, name in (
        (SAVED_LESSON, "hostile-saved-outputs"),
        (PRECOMPUTED_LESSON, "hostile-precomputed-outputs"),
    ):
        page.goto(url + lesson)
        page.locator('html[data-lms-jupyter="ready"]').wait_for()
        outputs = page.locator(".lms-jupyter-cell").first.locator(".lms-jupyter-outputs")
        outputs.locator(".lms-jupyter-rich").nth(2).wait_for(state="attached")
        assert_site_untouched(page, outputs, expected_styles, artifacts_dir, name)

    assert dialogs == []
    # The hostile <img src="data:,"> fails to load; nothing else may fail.
    assert [e for e in errors if "data:," not in e] == []
    assert process.poll() is None
