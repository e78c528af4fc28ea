"""The example project's lessons: the demo lesson, its page and API, and the kernelspec glue to lms_kernels."""

import pytest
from django.core.cache import caches

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_caches():
    for cache in caches.all():
        cache.clear()
    yield
    for cache in caches.all():
        cache.clear()


def test_demo_lesson_loads_idempotently_and_is_served(client):
    from groundup_site.demo import DEMO_LESSON_SLUG, load_lessons
    from groundup_site.models import LessonPage

    lines = load_lessons()
    assert "created" in lines[0]
    assert "updated" in load_lessons()[0]
    lesson = LessonPage.objects.get(slug=DEMO_LESSON_SLUG)
    assert lesson.live and LessonPage.objects.count() == 1
    response = client.get(lesson.url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "넘파이 기초 · NumPy basics" in html and '<span class="math inline">' in html
    api = client.get(
        "/api/v2/pages/", {"type": "groundup_site.LessonPage", "slug": DEMO_LESSON_SLUG, "fields": "body"}
    )
    assert api.status_code == 200  # public, although the project's REST default is IsAuthenticated
    (item,) = api.json()["items"]
    exercise = [block for block in item["body"] if block["type"] == "jupyter"][1]["value"]
    assert exercise["is_exercise"] is True and "check_code" not in exercise  # hidden from anonymous readers


def test_kernelspec_chooser_lists_lms_kernels_environments():
    from groundup_site.kernelspecs import lms_kernels_environments
    from lms_cms_blocks.blocks import JupyterBlock
    from lms_kernels.models import KernelEnvironment

    KernelEnvironment.objects.create(slug="pytorch-gpu", display_name="PyTorch (GPU)")
    KernelEnvironment.objects.create(slug="retired", display_name="Old", is_active=False)
    specs = dict(lms_kernels_environments())
    assert specs["pytorch-gpu"] == "PyTorch (GPU)" and "python3" in specs and "retired" not in specs
    environment = JupyterBlock().child_blocks["environment"]
    assert ("pytorch-gpu", "PyTorch (GPU)") in environment.field.choices
    with pytest.raises(Exception, match="Unknown kernelspec 'retired'"):
        environment.clean("retired")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_demo_lesson_in_a_browser(live_server, chromium_executable, artifacts_dir):
    from playwright.sync_api import sync_playwright

    from groundup_site.demo import load_lessons
    from groundup_site.models import LessonPage
    from tests.conftest import ensure_wagtail_site

    ensure_wagtail_site()
    load_lessons()
    url = live_server.url + LessonPage.objects.get().url
    errors = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(url)
            assert page.locator("h1").inner_text() == "넘파이 기초 · NumPy basics"
            assert page.locator("h2#넘파이-배열-numpy-arrays").count() == 1
            assert page.locator(".lms-callout--tip").is_visible()
            # The math is typeset by the page's bundle (MathML from KaTeX) and keeps its TeX as the annotation.
            math = page.locator(".math.inline").first
            math.locator("math").wait_for()
            assert "C_{ij}" in math.locator("annotation").text_content()
            assert page.locator(".highlight .kn").first.inner_text() == "import"
            assert (
                page.evaluate("getComputedStyle(document.querySelector('.lms-callout--tip')).borderLeftStyle")
                == "solid"
            )
            page.screenshot(path=str(artifacts_dir / "lms-cms-blocks-demo-lesson.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
