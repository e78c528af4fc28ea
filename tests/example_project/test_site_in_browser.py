"""The assembled site in Chromium, on the demo data: the instructor's dashboard and impersonating a learner.

Screenshots of each screen go to ``test-artifacts/`` (the docs use some of them).
"""

from pathlib import Path

import pytest

from tests.example_project.conftest import watch_for_errors

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def log_in(page, url, username, password, *, admin=False):
    page.goto(url + ("admin/login/" if admin else "accounts/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url + ("admin/" if admin else ""))


def test_instructor_sees_the_cohort_charts_and_grants_an_exception(demo_site, browser, artifacts_dir: Path):
    url, process, _log = demo_site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    watch_for_errors(page, errors)
    log_in(page, url, "instructor", "groundup-instructor")
    page.get_by_role("link", name="Teaching").click()
    page.get_by_role(
        "link", name="AI 기초 · Deep learning from the ground up · 2026 가을 · Autumn 2026"
    ).click()
    page.wait_for_selector("#chart-history")

    # Both charts were drawn by Chart.js from the page's figures: 9 learners in the distribution, 15 days of history.
    figures = page.evaluate(
        """() => ["chart-distribution", "chart-history"].map(id => {
            const chart = Chart.getChart(document.getElementById(id));
            return chart ? chart.data.datasets.map(d => d.data) : null;
        })"""
    )
    distribution, history = figures
    assert sum(distribution[0]) == 9
    assert len(history[0]) == 15 and history[0][-1] == 6  # delayed today
    page.screenshot(path=str(artifacts_dir / "site-instructor-cohort.png"), full_page=True)

    # Only the delayed learners, then grant the demo learner more time on both overdue lessons.
    page.get_by_role("checkbox", name="Delayed").check()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=delayed**")
    rows = page.locator("tbody tr[data-learner]")
    assert rows.count() == 6
    row = page.locator('tr[data-learner="learner"]')
    assert "Delayed" in row.inner_text()
    for lesson in (
        "Matplotlib으로 그래프 그리기 · Plotting with Matplotlib",
        "넘파이로 만드는 작은 신경망 · A tiny neural network in NumPy",
    ):
        row = page.locator('tr[data-learner="learner"]')
        row.locator("summary").click()
        row.get_by_label("Content").select_option(label=lesson)
        row.get_by_label("New due date").fill("2099-12-31")
        row.get_by_label("Reason").fill("병원 진료 · medical appointment")
        row.get_by_role("button", name="Grant exception").click()
        page.wait_for_selector(".message-success")
        assert "Minjun Lee now has until 2099-12-31" in page.locator(".messages").inner_text()
    # Caught up: no longer among the delayed learners.
    assert page.locator('tr[data-learner="learner"]').count() == 0
    page.goto(url + "teach/")
    page.get_by_role(
        "link", name="AI 기초 · Deep learning from the ground up · 2026 가을 · Autumn 2026"
    ).click()
    assert "Active" in page.locator('tr[data-learner="learner"]').inner_text()

    # The learner sees the new dates on their course page.
    learner = browser.new_page(viewport={"width": 390, "height": 844})
    watch_for_errors(learner, errors)
    log_in(learner, url, "learner", "groundup-learner")
    learner.locator("article.enrollment h3 a").click()
    assert learner.get_by_test_id("enrollment-status").inner_text() == "Active"
    assert learner.locator("tr.is-overdue").count() == 0
    assert learner.get_by_text("extended").count() == 2
    learner.screenshot(path=str(artifacts_dir / "site-learner-course-phone.png"), full_page=True)
    assert errors == []
    assert process.poll() is None  # the server stayed up


def test_admin_impersonates_the_learner_sees_the_banner_and_releases(demo_site, browser, artifacts_dir: Path):
    from playwright.sync_api import expect

    url, process, _log = demo_site
    errors = []
    # The learner edits a cell of a lesson (saved as they type).
    learner = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    watch_for_errors(learner, errors)
    log_in(learner, url, "learner", "groundup-learner")
    learner.goto(url + "lessons/넘파이-기초/")
    learner.locator('html[data-lms-jupyter="ready"]').wait_for()
    cell = learner.locator(".lms-jupyter-cell").first
    cell.locator(".cm-content").click()
    learner.keyboard.press("Control+A")
    learner.keyboard.press("Delete")
    learner.keyboard.insert_text("print('학습자의 코드 · the learner wrote this')")
    cell.locator('.lms-jupyter-save[data-state="saved"]').wait_for(timeout=30_000)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch_for_errors(page, errors)
    log_in(page, url, "admin", "groundup-admin", admin=True)
    page.goto(url + "admin/auth/user/?q=learner")
    button = page.locator("#result_list").get_by_role("button", name="Impersonate")
    assert button.count() == 1  # the search found only the demo learner
    button.click()
    page.wait_for_url(url)
    banner = page.locator("#djhj")
    assert banner.is_visible()
    assert "learner" in banner.inner_text()
    assert page.get_by_text("Welcome, Minjun Lee.").is_visible()
    page.locator("article.enrollment h3 a").click()
    assert page.locator("#djhj").is_visible()
    page.screenshot(path=str(artifacts_dir / "site-admin-impersonating.png"), full_page=True)
    # Their lesson shows their saved code, with the banner.
    page.goto(url + "lessons/넘파이-기초/")
    page.locator('html[data-lms-jupyter="ready"]').wait_for()
    expect(page.locator(".lms-jupyter-cell").first.locator(".cm-content")).to_contain_text(
        "the learner wrote this"
    )
    assert page.locator("#djhj").is_visible()
    with page.expect_navigation():
        page.locator("#djhj").get_by_role("button", name="Stop impersonating").click()
    assert page.url == url + "admin/"
    assert page.locator("#djhj").count() == 0
    page.goto(url + "admin/lms_core/hijackevent/")
    assert page.locator("#result_list tbody tr").count() == 2  # started and ended, audit-logged
    assert errors == []
    assert process.poll() is None  # the server stayed up


def test_learner_runs_lessons_passes_the_exercise_and_answers_the_survey(
    demo_site, browser, artifacts_dir: Path
):
    """Dashboard → course → a lesson's plot → "Mark as complete" → its survey → an error → the exercise → progress."""
    from playwright.sync_api import expect

    url, process, _log = demo_site
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(60_000)
    expect.set_options(timeout=60_000)
    page = context.new_page()
    errors = []
    watch_for_errors(page, errors)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    log_in(page, url, "learner", "groundup-learner")
    card = page.locator("article.enrollment")
    assert card.locator("progress").get_attribute("value") == "25"

    # The course page links each content to its lesson.
    card.locator("h3 a").click()
    page.get_by_role("link", name="Matplotlib으로 그래프 그리기 · Plotting with Matplotlib").click()
    page.locator('html[data-lms-jupyter="ready"]').wait_for()
    plot = page.locator(".lms-jupyter-cell").first
    plot.get_by_role("button", name="Run").click()
    expect(plot.locator('.lms-jupyter-outputs img[src^="data:image/png;base64,"]')).to_have_count(1)
    expect(plot.locator(".lms-jupyter-status")).to_have_text("Idle")
    page.screenshot(path=str(artifacts_dir / "site-learner-lesson-plot.png"), full_page=True)

    # Completing the lesson opens its survey; the answers are saved and the learner comes back to the lesson.
    page.get_by_role("button", name="Mark as complete").click()
    page.wait_for_url("**/surveys/**")
    page.locator("input[type=number]").fill("5")
    page.locator("input[type=radio]").nth(1).check()
    page.locator("input[type=checkbox]").nth(1).check()
    page.locator("textarea").fill("그래프가 바로 보여서 좋았어요")
    page.screenshot(path=str(artifacts_dir / "site-learner-survey.png"), full_page=True)
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url("**/lessons/**")
    expect(page.locator(".messages")).to_contain_text("Thank you")
    expect(page.locator(".lesson__progress")).to_contain_text("You completed this lesson.")

    # The exercise: a first attempt that fails shows the traceback (no check runs), a right one passes.
    page.goto(url + "lessons/행렬-곱-연습/")
    page.locator('html[data-lms-jupyter="ready"]').wait_for()
    exercise = page.locator(".lms-jupyter-cell").first
    # The markdown block's math is typeset (MathML from KaTeX), not left as TeX.
    expect(page.locator('.math.inline[data-lms-math="rendered"] math')).to_have_count(1)
    exercise.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text("def matmul(a, b):\n    return a[0][0] / 0\n\nmatmul([[1]], [[1]])")
    page.keyboard.press("Shift+Enter")
    expect(exercise.locator(".lms-jupyter-outputs")).to_contain_text("ZeroDivisionError")
    # The check runs only after code that worked.
    expect(exercise.locator(".lms-jupyter-check")).to_be_hidden()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(
        "def matmul(a, b):\n"
        "    return [[sum(x * y for x, y in zip(row, col)) for col in zip(*b)] for row in a]\n\n"
        "matmul([[1, 2], [3, 4]], [[5, 6], [7, 8]])"
    )
    page.keyboard.press("Shift+Enter")
    expect(exercise.locator(".lms-jupyter-outputs")).to_contain_text("[[19, 22], [43, 50]]")
    expect(exercise.locator(".lms-jupyter-check")).to_have_text("✓ Check passed")
    page.screenshot(path=str(artifacts_dir / "site-learner-exercise.png"), full_page=True)

    # Progress: the two lessons are completed on the dashboard and the course page (4 required contents).
    page.goto(url)
    assert page.locator("article.enrollment progress").get_attribute("value") == "75"
    page.locator("article.enrollment h3 a").click()
    done = page.locator("tbody tr", has=page.locator(".badge-completed"))
    assert done.count() == 3
    assert errors == []
    assert process.poll() is None
