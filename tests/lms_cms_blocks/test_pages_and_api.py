"""The lesson page: Korean slugs, rendering, revisions/comparison/moderation, the API by slug, headless preview."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from django.core import signing
from django.test import Client
from wagtail.models import Page, Revision, Workflow, WorkflowState

from lms_cms_blocks.preview import make_preview_token

pytestmark = pytest.mark.django_db

BODY = [
    {"type": "heading", "value": {"text": "행렬", "level": "2"}, "id": str(uuid.uuid4())},
    {"type": "markdown", "value": "곱셈 $AB$", "id": str(uuid.uuid4())},
    {
        "type": "jupyter",
        "value": {
            "source": "A @ B",
            "environment": "python3",
            "setup_code": "import numpy as np",
            "outputs": [],
            "check_code": "assert True",
        },
        "id": str(uuid.uuid4()),
    },
]


@pytest.fixture
def editor(django_user_model):
    return django_user_model.objects.create_superuser("editor", "editor@example.com", "pw")


@pytest.fixture
def editor_client(editor):
    client = Client()
    client.force_login(editor)
    return client


def test_korean_title_gives_a_korean_slug(site_root, lesson_model, settings):
    assert getattr(settings, "WAGTAIL_ALLOW_UNICODE_SLUGS", True) is True
    page = lesson_model(title="넘파이로 만드는 신경망")
    site_root.add_child(instance=page)
    assert page.slug == "넘파이로-만드는-신경망"
    other = lesson_model(title="Ünïcode — 日本語のレッスン")
    site_root.add_child(instance=other)
    assert other.slug == "ünïcode-日本語のレッスン"


def test_admin_form_autofills_unicode_slugs(editor_client, site_root, lesson_model):
    label = lesson_model._meta
    url = f"/cms/pages/add/{label.app_label}/{label.model_name}/{site_root.pk}/"
    response = editor_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    # the slug field's JavaScript (w-slug controller) keeps Unicode letters
    (slug_input,) = re.findall(r'<input[^>]*name="slug"[^>]*>', html)
    # a true attribute renders without a value; WAGTAIL_ALLOW_UNICODE_SLUGS = False would render none at all
    assert re.search(r"data-w-slug-allow-unicode-value(\s|>|=\"true\")", slug_input), slug_input
    # the slug the JavaScript fills in (see the browser test below) is accepted as it is
    response = editor_client.post(
        url,
        {
            "title": "파이썬 기초",
            "slug": "파이썬-기초",
            "date": "2026-11-25",
            "intro": "",
            "body-count": "0",
            "comments-TOTAL_FORMS": "0",
            "comments-INITIAL_FORMS": "0",
            "comments-MIN_NUM_FORMS": "0",
            "comments-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    assert lesson_model.objects.get(title="파이썬 기초").slug == "파이썬-기초"


def test_lesson_page_renders_blocks_with_ids(make_lesson, client):
    page = make_lesson(title="행렬 곱", body=BODY[:2], intro="짧은 소개")
    response = client.get(page.url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "행렬 곱" in html and "짧은 소개" in html
    assert f'data-block-id="{BODY[0]["id"]}"' in html
    assert '<span class="math inline">\\(AB\\)</span>' in html


def test_lesson_page_with_a_broken_block_still_renders(make_lesson, client):
    page = make_lesson(
        title="깨진 블록", body=[BODY[0], {"type": "image", "value": 5, "id": str(uuid.uuid4())}]
    )
    response = client.get(page.url)
    assert response.status_code == 200
    assert "This part of the lesson could not be shown." in response.content.decode()


def test_api_fetch_lesson_by_slug_with_blocks(make_lesson, lesson_model, client):
    page = make_lesson(title="행렬 곱", body=BODY)
    make_lesson(title="초안", body=BODY, publish=False)
    label = lesson_model._meta.label
    response = client.get("/api/v2/pages/", {"type": label, "slug": "행렬-곱", "fields": "*"})
    assert response.status_code == 200, response.content
    (item,) = response.json()["items"]
    assert item["id"] == page.pk and item["meta"]["slug"] == "행렬-곱"
    assert [block["type"] for block in item["body"]] == ["heading", "markdown", "jupyter"]
    jupyter = item["body"][2]
    assert jupyter["id"] == BODY[2]["id"]
    assert jupyter["value"] == {
        "source": "A @ B",
        "environment": "python3",
        "outputs": [],
        "has_setup": True,
        "is_exercise": True,
    }
    detail = client.get(f"/api/v2/pages/{page.pk}/").json()
    assert detail["intro"] == "" and "date" in detail and len(detail["body"]) == 3
    # drafts are not served
    assert client.get("/api/v2/pages/", {"type": label, "slug": "초안"}).json()["items"] == []


def test_images_and_documents_endpoints(editor_client):
    assert editor_client.get("/api/v2/images/").status_code == 200
    assert editor_client.get("/api/v2/documents/").status_code == 200


def test_headless_preview_of_a_draft(make_lesson, editor_client, client, settings):
    page = make_lesson(title="공개본", body=BODY[:1])
    page.title = "수정 중인 초안"
    page.body = BODY
    draft = page.save_revision()
    response = editor_client.post(f"/cms/lms-cms-blocks/pages/{page.pk}/preview-token/")
    assert response.status_code == 200
    answer = response.json()
    assert answer["revision_id"] == draft.pk and answer["expires_in"] == 3600
    assert answer["url"].startswith("http://testserver/api/v2/pages/preview/?token=")
    # any client with the token (a headless front end) sees the draft, hidden code included
    data = client.get("/api/v2/pages/preview/", {"token": answer["token"]}).json()
    assert data["title"] == "수정 중인 초안" and data["meta"]["preview"] is True
    assert data["body"][2]["value"]["check_code"] == "assert True"
    # the live page is unchanged
    assert client.get(f"/api/v2/pages/{page.pk}/").json()["title"] == "공개본"
    # the same from the admin's page, for people
    assert editor_client.get(f"/cms/lms-cms-blocks/pages/{page.pk}/preview-token/").status_code == 200
    response = editor_client.post(f"/cms/lms-cms-blocks/pages/{page.pk}/preview-token/", {"format": "html"})
    assert (
        response.status_code == 200
        and "http://testserver/api/v2/pages/preview/?token=" in response.content.decode()
    )
    edit = editor_client.get(f"/cms/pages/{page.pk}/edit/").content.decode()
    assert f"/cms/lms-cms-blocks/pages/{page.pk}/preview-token/" in edit and "Headless preview link" in edit
    assert f"/cms/lms-cms-blocks/pages/{page.pk}/notebook/" in edit
    # learners cannot mint tokens
    assert client.post(f"/cms/lms-cms-blocks/pages/{page.pk}/preview-token/").status_code == 302  # to login


def test_preview_token_errors(make_lesson, client, settings):
    page = make_lesson(title="x", body=BODY[:1])
    revision = page.get_latest_revision()
    response = client.get("/api/v2/pages/preview/")
    assert response.status_code == 400 and "needs a token" in response.json()["message"]
    response = client.get("/api/v2/pages/preview/", {"token": "forged"})
    assert response.status_code == 400 and response.json()["message"] == "The preview token is not valid."
    token = make_preview_token(revision)
    tampered = signing.dumps({"revision": revision.pk + 1000, "page": page.pk}, salt="other")
    assert client.get("/api/v2/pages/preview/", {"token": tampered}).status_code == 400
    settings.LMS_CMS_BLOCKS = {**settings.LMS_CMS_BLOCKS, "PREVIEW_TOKEN_MAX_AGE": 1}
    time.sleep(2.1)
    response = client.get("/api/v2/pages/preview/", {"token": token})
    assert response.status_code == 400 and response.json()["message"] == "The preview token has expired."


def test_revisions_and_comparison(make_lesson, editor_client):
    page = make_lesson(title="비교", body=BODY[:2])
    first = page.get_latest_revision()
    page.body = [BODY[0], {**BODY[1], "value": "바뀐 문장 $x$"}, BODY[2]]
    second = page.save_revision()
    assert Revision.page_revisions.filter(object_id=str(page.pk)).count() == 2
    response = editor_client.get(f"/cms/pages/{page.pk}/revisions/compare/{first.pk}...{second.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "바뀐 문장" in html and "Body" in html
    # revert to the first revision through the admin's revisions view
    response = editor_client.get(f"/cms/pages/{page.pk}/revisions/{first.pk}/revert/")
    assert response.status_code == 200


def test_moderation_workflow(make_lesson, django_user_model, editor):
    page = make_lesson(title="검토", body=BODY[:1], publish=False)
    workflow = Workflow.objects.filter(active=True).first() or pytest.skip(
        "Wagtail's default workflow is missing"
    )
    author = django_user_model.objects.create_user("author")
    state = workflow.start(page, author)
    assert state.status == WorkflowState.STATUS_IN_PROGRESS
    task_state = state.current_task_state
    task_state.task.specific.on_action(task_state, editor, "approve")
    state.refresh_from_db()
    page.refresh_from_db()
    assert state.status == WorkflowState.STATUS_APPROVED
    assert page.live and Page.objects.get(pk=page.pk).live


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_slug_autofill_in_the_admin_keeps_korean(
    live_server, chromium_executable, lesson_model, django_user_model
):
    from playwright.sync_api import sync_playwright
    from wagtail.models import Site

    from tests.conftest import ensure_wagtail_site

    ensure_wagtail_site()

    django_user_model.objects.create_superuser("editor", "editor@example.com", "pw-editor-1234")
    root = Site.objects.get(is_default_site=True).root_page
    meta = lesson_model._meta
    url = f"{live_server.url}/cms/pages/add/{meta.app_label}/{meta.model_name}/{root.pk}/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.goto(live_server.url + "/cms/login/")
            page.fill("input[name=username]", "editor")
            page.fill("input[name=password]", "pw-editor-1234")
            with page.expect_navigation():
                page.click("button[type=submit]")
            page.goto(url)
            title = page.locator("#id_title")
            title.fill("파이썬 기초 · Python basics")
            title.press("Tab")
            page.wait_for_function("document.querySelector('#id_slug').value !== ''")
            slug = page.locator("#id_slug").input_value()
        finally:
            browser.close()
    assert slug == "파이썬-기초-python-basics"


def _edit_form(page, jupyter):
    """The admin edit form's POST data for a lesson with one Jupyter cell."""
    data = {
        "title": page.title,
        "slug": page.slug,
        "date": "2026-11-25",
        "intro": "",
        "body-count": "1",
        "body-0-type": "jupyter",
        "body-0-deleted": "",
        "body-0-order": "0",
        "body-0-id": "0b0b0b0b-0000-4000-8000-000000000000",
        "comments-TOTAL_FORMS": "0",
        "comments-INITIAL_FORMS": "0",
        "comments-MIN_NUM_FORMS": "0",
        "comments-MAX_NUM_FORMS": "1000",
        "action-publish": "action-publish",
    }
    data.update({f"body-0-value-{key}": value for key, value in jupyter.items()})
    return data


def test_editing_a_jupyter_cell_in_the_admin(make_lesson, editor_client):
    page = make_lesson(title="편집", body=BODY)
    url = f"/cms/pages/{page.pk}/edit/"
    response = editor_client.get(url)
    assert response.status_code == 200
    assert "PyTorch (GPU)" in response.content.decode()  # the kernelspec chooser's choices
    cell = {"source": "x = 1", "environment": "cobol", "setup_code": "", "outputs": "", "check_code": ""}
    response = editor_client.post(url, _edit_form(page, cell))
    assert response.status_code == 200  # the form again, with the error
    assert "Unknown kernelspec" in response.content.decode() and "cobol" in response.content.decode()
    cell.update(environment="python3", outputs='[{"output_type": "stream", "name": "stdout"}]')
    response = editor_client.post(url, _edit_form(page, cell))
    assert (
        "Output 1 is not a valid nbformat output: &#x27;text&#x27; is a required property"
        in response.content.decode()
    )
    cell.update(outputs='[{"output_type": "stream", "name": "stdout", "text": "1\\n"}]')
    response = editor_client.post(url, _edit_form(page, cell))
    assert response.status_code == 302
    page.refresh_from_db()
    (child,) = page.body
    assert child.value["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    assert child.value["environment"] == "python3"


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("/api/v2/pages/", {"offset": str(2**64)}, "The query parameter 'offset' is out of range"),
        ("/api/v2/pages/", {"child_of": "-" + str(2**64)}, "The query parameter 'child_of' is out of range"),
        ("/api/v2/pages/find/", {"id": "abc"}, "The query parameter 'id' must be a whole number."),
        ("/api/v2/pages/", {"search": "a\x00b"}, "The query parameter 'search' cannot hold a NUL character"),
        ("/api/v2/images/", {"offset": str(2**64)}, "The query parameter 'offset' is out of range"),
        ("/api/v2/images/", {"width": str(2**64)}, "The query parameter 'width' is out of range"),
        ("/api/v2/documents/find/", {"id": "1e3"}, "The query parameter 'id' must be a whole number."),
    ],
)
def test_wagtail_api_refuses_hostile_query_values_with_a_message(
    admin_client, site_root, path, query, message
):
    """Wagtail's own views answered these with a 500 (an overflow, a ValueError, a NUL PostgreSQL refuses)."""
    response = admin_client.get(path, query)  # images and documents are for signed-in users in these projects
    assert response.status_code == 400, response.content[:300]
    assert response.json()["message"].startswith(message)


def test_wagtail_api_still_answers_ordinary_queries(client, site_root):
    assert client.get("/api/v2/pages/", {"offset": "0", "limit": "5"}).status_code == 200
    assert client.get("/api/v2/pages/find/", {"id": str(site_root.pk)}).status_code == 302
