"""Every block's API shape (the documented JSON), its template, and the stream's behaviour on bad data."""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from wagtail.blocks import StreamValue

from lms_cms_blocks.blocks import (
    BaseStreamBlock,
    BlockQuoteBlock,
    CalloutBlock,
    CodeBlock,
    DocumentBlock,
    EmbedBlock,
    HeadingBlock,
    ImageBlock,
    JupyterBlock,
    MarkdownBlock,
    ParagraphBlock,
)

pytestmark = pytest.mark.django_db

SECRET_WORDS = ("docker", "container", "gateway", "connection_file", "password", "secret", "token")


def api(block, raw, context=None):
    value = block.to_python(raw)
    result = block.get_api_representation(value, context)
    json.dumps(result)  # JSON-serialisable
    lowered = json.dumps(result).lower()
    assert not any(word in lowered for word in SECRET_WORDS), result
    return result


def test_heading_shape_and_korean_anchor():
    block = HeadingBlock()
    assert api(block, {"text": "행렬 곱 · Matrix product", "level": "3"}) == {
        "text": "행렬 곱 · Matrix product",
        "level": 3,
        "anchor": "행렬-곱-matrix-product",
    }
    assert api(block, {"text": "x", "level": "9"})["level"] == 2  # bad data: the default, not a crash
    html = block.render(block.to_python({"text": "소개", "level": "2"}))
    assert html.strip() == '<h2 id="소개">소개</h2>'


def test_paragraph_shape_expands_links(site_root):
    block = ParagraphBlock()
    raw = f'<p>See <a linktype="page" id="{site_root.pk}">home</a> &amp; <b>bold</b></p>'
    result = api(block, raw)
    assert set(result) == {"html"}
    assert "linktype" not in result["html"]
    assert f'href="{site_root.url}"' in result["html"]
    assert "<b>bold</b>" in result["html"]


def test_markdown_shape_math_and_sanitizing(make_image):
    block = MarkdownBlock()
    image = make_image("diagram")
    source = (
        "# 제목\n\nInline $a^2 + b^2 < c$ and\n\n$$\\sum_i x_i$$\n\n"
        f'![그림](image:{image.pk})\n\n<script>alert(1)</script><a href="javascript:alert(1)">x</a>'
    )
    result = api(block, source)
    assert set(result) == {"markdown", "html"}
    assert result["markdown"] == source
    html = result["html"]
    assert '<span class="math inline">\\(a^2 + b^2 &lt; c\\)</span>' in html
    assert '<div class="math display">\\[\\sum_i x_i\\]</div>' in html
    assert "<h1>제목</h1>" in html
    assert "<script" not in html and "javascript:" not in html
    assert 'src="/' in html and "image:" not in html.split("alt=")[0]
    rendered = block.render(source)
    assert '<div class="lms-markdown">' in rendered and "<script" not in rendered


def test_image_shape(make_image):
    block = ImageBlock()
    image = make_image("행렬 그림", size=(2000, 1000))
    result = api(block, {"image": image.pk, "alt": "", "caption": "캡션"})
    assert result["id"] == image.pk
    assert result["alt"] == "행렬 그림"  # blank alt text: the title
    assert result["caption"] == "캡션"
    assert (result["width"], result["height"]) == (1200, 600)
    assert result["url"].startswith("/") and result["original"] == {
        "url": image.file.url,
        "width": 2000,
        "height": 1000,
    }
    html = block.render(block.to_python({"image": image.pk, "alt": "alt!", "caption": ""}))
    assert 'alt="alt!"' in html and 'width="1200"' in html


def test_image_that_fails_to_decode(make_image):
    block = ImageBlock()
    image = make_image("broken")
    with image.file.open("wb") as fh:  # the stored file is no longer an image
        fh.write(b"not a png at all")
    result = api(block, {"image": image.pk, "alt": "x", "caption": ""})
    assert result["url"] is None and result["id"] == image.pk
    html = block.render(block.to_python({"image": image.pk, "alt": "x", "caption": ""}))
    assert "cannot be shown" in html


def test_deleted_image():
    block = ImageBlock()
    result = api(block, {"image": 999999, "alt": "", "caption": ""})
    assert result["id"] is None and result["url"] is None


def test_quote_and_callout_shapes():
    assert api(BlockQuoteBlock(), {"quote": "배움에는 끝이 없다", "attribution": "속담"}) == {
        "quote": "배움에는 끝이 없다",
        "attribution": "속담",
    }
    callout = CalloutBlock()
    result = api(callout, {"kind": "warning", "title": "", "body": "<p>GPU 메모리</p>"})
    assert result == {"kind": "warning", "title": "", "html": "<p>GPU 메모리</p>"}
    html = callout.render(callout.to_python({"kind": "warning", "title": "", "body": "<p>x</p>"}))
    assert "lms-callout--warning" in html and "Warning" in html
    assert api(callout, {"kind": "nonsense", "title": "t", "body": ""})["kind"] == "note"


def test_code_shape_and_highlighting():
    block = CodeBlock()
    result = api(block, {"language": "python", "code": "def f():\n    return '한글'", "caption": "c"})
    assert set(result) == {"language", "code", "caption", "html"}
    assert result["language"] == "python" and result["caption"] == "c"
    assert '<div class="highlight">' in result["html"] and '<span class="k">def</span>' in result["html"]
    assert (
        "<script" not in api(block, {"language": "html", "code": "<script>x</script>", "caption": ""})["html"]
    )


def test_code_unknown_language_is_refused():
    block = CodeBlock()
    with pytest.raises(ValidationError):
        block.clean(block.to_python({"language": "klingon", "code": "x", "caption": ""}))


def test_embed_shape(db):
    from wagtail.embeds.embeds import get_embed_hash
    from wagtail.embeds.models import Embed

    url = "https://www.youtube.com/watch?v=abc"
    Embed.objects.create(
        url=url,
        max_width=None,
        hash=get_embed_hash(url),
        type="video",
        html='<iframe src="https://www.youtube.com/embed/abc"></iframe>',
        title="강의 영상",
        provider_name="YouTube",
        width=480,
        height=270,
    )
    block = EmbedBlock()
    result = api(block, {"embed": url, "caption": "영상"})
    assert result == {
        "url": url,
        "caption": "영상",
        "html": '<iframe src="https://www.youtube.com/embed/abc"></iframe>',
        "title": "강의 영상",
        "provider": "YouTube",
        "type": "video",
        "width": 480,
        "height": 270,
    }


def test_embed_that_cannot_be_fetched_is_a_link(settings):
    settings.WAGTAILEMBEDS_FINDERS = []  # no provider: nothing can be embedded
    block = EmbedBlock()
    result = api(block, {"embed": "https://example.com/nothing", "caption": ""})
    assert result["html"] is None and result["url"] == "https://example.com/nothing"
    html = block.render(block.to_python({"embed": "https://example.com/nothing", "caption": ""}))
    assert 'href="https://example.com/nothing"' in html


def test_document_shape(db):
    from django.core.files.base import ContentFile
    from wagtail.documents import get_document_model

    document = get_document_model()(title="강의 슬라이드")
    document.file.save("slides.pdf", ContentFile(b"%PDF-1.4 tiny"), save=True)
    result = api(DocumentBlock(), {"document": document.pk, "title": ""})
    assert result == {
        "id": document.pk,
        "title": "강의 슬라이드",
        "url": document.url,
        "filename": "slides.pdf",
        "extension": "pdf",
        "size": len(b"%PDF-1.4 tiny"),
    }
    assert api(DocumentBlock(), {"document": None, "title": "x"})["id"] is None


JUPYTER_RAW = {
    "source": "print(1)",
    "environment": "python3",
    "setup_code": "import helpers",
    "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}],
    "check_code": "assert answer == 42",
}


def test_jupyter_shape_for_learners():
    result = api(JupyterBlock(), JUPYTER_RAW)
    assert result == {
        "source": "print(1)",
        "environment": "python3",
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}],
        "has_setup": True,
        "is_exercise": True,
    }
    plain = api(JupyterBlock(), {**JUPYTER_RAW, "setup_code": "", "check_code": " "})
    assert plain["has_setup"] is False and plain["is_exercise"] is False


def _request(user):
    request = RequestFactory().get("/api/v2/pages/")
    request.user = user
    return request


def test_jupyter_hidden_code_for_editors_and_previews(django_user_model):
    learner = django_user_model.objects.create_user("learner")
    editor = django_user_model.objects.create_user("editor")
    editor.user_permissions.add(Permission.objects.get(codename="access_admin"))
    editor = get_user_model().objects.get(pk=editor.pk)
    block = JupyterBlock()
    assert "check_code" not in api(block, JUPYTER_RAW, {"request": _request(learner)})
    for context in ({"request": _request(editor)}, {"lms_preview": True}):
        result = api(block, JUPYTER_RAW, context)
        assert result["setup_code"] == "import helpers"
        assert result["check_code"] == "assert answer == 42"


def test_jupyter_validation_unknown_kernelspec_and_bad_outputs():
    block = JupyterBlock()
    with pytest.raises(ValidationError) as info:
        block.clean(block.to_python({**JUPYTER_RAW, "environment": "cobol"}))
    assert "Unknown kernelspec 'cobol'" in str(info.value.block_errors["environment"])
    assert "python3" in str(info.value.block_errors["environment"])
    bad_outputs = [{"output_type": "stream", "name": "stdout"}]  # no text
    with pytest.raises(ValidationError) as info:
        block.clean(block.to_python({**JUPYTER_RAW, "outputs": bad_outputs}))
    assert "Output 1 is not a valid nbformat output" in str(info.value.block_errors["outputs"])
    cleaned = block.clean(block.to_python(JUPYTER_RAW))
    assert cleaned["environment"] == "python3"


def test_jupyter_outputs_from_the_editor_form():
    block = JupyterBlock()
    form = {
        "j-source": "x = 1",
        "j-environment": "pytorch-gpu",
        "j-setup_code": "",
        "j-outputs": json.dumps(
            [
                {
                    "output_type": "execute_result",
                    "execution_count": 1,
                    "data": {"text/plain": "1"},
                    "metadata": {},
                }
            ]
        ),
        "j-check_code": "",
    }
    value = block.clean(block.value_from_datadict(form, {}, "j"))
    assert value["outputs"][0]["data"] == {"text/plain": "1"}
    form["j-outputs"] = "[{not json"
    with pytest.raises(ValidationError):
        block.clean(block.value_from_datadict(form, {}, "j"))
    form["j-outputs"] = ""
    assert block.clean(block.value_from_datadict(form, {}, "j"))["outputs"] == []


def test_kernelspec_falls_back_to_free_text_when_unavailable(settings, caplog):
    from django import forms

    from lms_cms_blocks.kernelspecs import clear_cache

    settings.LMS_CMS_BLOCKS = {"KERNEL_SERVICE_URL": ""}  # the default fetcher, nothing configured
    clear_cache()
    environment = JupyterBlock().child_blocks["environment"]
    assert isinstance(environment.field, forms.CharField)
    assert "could not be loaded" in str(environment.field.help_text)
    assert environment.clean("anything-typed") == "anything-typed"


def _stream(raw):
    block = BaseStreamBlock()
    return block, StreamValue(block, raw, is_lazy=True)


def test_stream_api_lists_type_value_id_and_survives_bad_blocks():
    good_id, bad_id = str(uuid.uuid4()), str(uuid.uuid4())
    block, value = _stream(
        [
            {"type": "heading", "value": {"text": "하나", "level": "2"}, "id": good_id},
            {"type": "image", "value": 5, "id": bad_id},
            {"type": "markdown", "value": "*둘*", "id": str(uuid.uuid4())},
        ]
    )
    result = block.get_api_representation(value, {})
    assert result[0] == {
        "type": "heading",
        "value": {"text": "하나", "level": 2, "anchor": "하나"},
        "id": good_id,
    }
    assert result[1]["error"] == "invalid_block" and result[1]["value"] is None
    assert result[2]["value"]["html"] == "<p><em>둘</em></p>\n"


def test_stream_render_gives_block_id_and_page_and_survives_bad_blocks(site_root):
    block_id = str(uuid.uuid4())
    block, value = _stream(
        [
            {"type": "heading", "value": {"text": "제목", "level": "2"}, "id": block_id},
            {"type": "image", "value": 5, "id": str(uuid.uuid4())},
        ]
    )
    html = block.render(value, {"page": site_root})
    assert f'data-block-id="{block_id}"' in html
    assert "could not be shown" in html  # the broken block, not a crash
    assert '<h2 id="제목">제목</h2>' in html
