"""Notebook import and export: a real notebook (Korean, math, an attachment, image and error outputs) round trip,
bad input (broken, huge, unknown kernel, undecodable image) leaving nothing behind, the command and admin upload."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from io import StringIO
from pathlib import Path

import nbformat
import pytest
from django.core.management import CommandError, call_command
from PIL import Image as PILImage
from wagtail.images import get_image_model
from wagtail.models import Page, Revision

from lms_cms_blocks.notebooks import (
    NotebookImageError,
    NotebookInvalid,
    NotebookTooLarge,
    UnknownKernelspec,
    export_notebook,
    export_notebook_bytes,
    import_notebook,
)

from .conftest import png_bytes

pytestmark = pytest.mark.django_db


def counts():
    return Page.objects.count(), Revision.objects.count(), get_image_model().objects.count()


def test_import_maps_cells_to_blocks(site_root, notebook_bytes):
    page = import_notebook(notebook_bytes, parent=site_root, filename="numpy.ipynb")
    assert page.title == "넘파이 기초 · NumPy basics"
    assert page.slug == "넘파이-기초-numpy-basics"
    assert not page.live and page.get_latest_revision() is not None
    kinds = [child.block_type for child in page.body]
    assert kinds == ["markdown", "markdown", "jupyter", "jupyter", "jupyter", "code", "jupyter", "jupyter"]
    # the attachment became a Wagtail image, referred to by id
    images = get_image_model().objects.all()
    assert images.count() == 2  # the attachment and the image output
    assert "](image:" in page.body[1].value and "attachment:" not in page.body[1].value
    # code cells: environment from the kernelspec, outputs kept, image outputs stored as Wagtail images
    first = page.body[2].value
    assert first["environment"] == "python3"
    assert first["outputs"][0]["text"] == "안녕하세요, 세계\n"
    assert first["outputs"][1]["data"]["text/plain"] == "2"
    stored = json.dumps(page.body.raw_data[3]["value"]["outputs"])
    assert "lms-image:" in stored and "iVBOR" not in stored  # not the base64 PNG
    shown = page.body[3].value["outputs"][0]
    assert base64.b64decode(shown["data"]["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert shown["metadata"]["lms_cms_blocks"]["image/png"]["url"].startswith("/")
    assert page.body[4].value["outputs"][0]["output_type"] == "error"
    exercise = page.body[6].value
    assert exercise["setup_code"] == "import math" and "assert matmul" in exercise["check_code"]
    # the math is kept for the client's renderer
    html = page.body.stream_block.child_blocks["markdown"].get_api_representation(page.body[0].value)["html"]
    assert '<span class="math inline">\\(C_{ij} = \\sum_k A_{ik} B_{kj}\\)</span>' in html


def _normalized(bundle):
    """A mime bundle with image data decoded (Jupyter wrote base64 with a final newline; we write without)."""
    return {
        mime: base64.b64decode(value) if mime.startswith("image/") and mime != "image/svg+xml" else value
        for mime, value in bundle.items()
    }


def _normalized_outputs(outputs):
    return [
        {**output, "data": _normalized(output["data"])} if "data" in output else output for output in outputs
    ]


@pytest.mark.parametrize("name", ["korean_math_images.ipynb", "plots_v4_4.ipynb"])
def test_round_trip_preserves_cells_sources_and_order(site_root, name):
    from .conftest import NOTEBOOKS

    data = (NOTEBOOKS / name).read_bytes()
    original = nbformat.reads(data.decode(), as_version=4)
    page = import_notebook(data, parent=site_root)
    exported = export_notebook(page)
    nbformat.validate(exported)
    assert [c.cell_type for c in exported.cells] == [c.cell_type for c in original.cells]
    for before, after in zip(original.cells, exported.cells, strict=True):
        assert after.source == before.source  # markdown with attachment:NAME references, code, raw
        if before.get("attachments"):
            assert {k: _normalized(v) for k, v in after.attachments.items()} == {
                k: _normalized(v) for k, v in before.attachments.items()
            }
        if before.cell_type == "code":
            assert _normalized_outputs(after.outputs) == _normalized_outputs(before.outputs)
            assert after.metadata.get("lms_cms_blocks") == before.metadata.get("lms_cms_blocks")
    assert exported.metadata.kernelspec.name == original.metadata.kernelspec.name
    # and the exported notebook imports again into the same blocks
    again = import_notebook(export_notebook_bytes(page), parent=site_root, title="다시", slug="again")
    assert [c.block_type for c in again.body] == [c.block_type for c in page.body]
    assert [c.value for c in again.body if c.block_type == "markdown"] != []


def test_export_is_stable_for_git(site_root, notebook_bytes):
    page = import_notebook(notebook_bytes, parent=site_root)
    first, second = export_notebook_bytes(page), export_notebook_bytes(page)
    assert first == second and first.endswith(b"\n")
    assert "넘파이".encode() in first  # UTF-8, not \\u escapes: readable diffs


def test_export_of_every_block_kind(make_lesson, make_image):
    image = make_image("그림")
    page = make_lesson(
        body=[
            {"type": "heading", "value": {"text": "소개", "level": "3"}},
            {"type": "paragraph", "value": "<p>문단</p>"},
            {"type": "quote", "value": {"quote": "인용", "attribution": "누군가"}},
            {"type": "callout", "value": {"kind": "tip", "title": "", "body": "<p>팁</p>"}},
            {"type": "code", "value": {"language": "python", "code": "x = 1", "caption": ""}},
            {"type": "image", "value": {"image": image.pk, "alt": "대체", "caption": ""}},
            {"type": "embed", "value": {"embed": "https://example.com/v", "caption": "영상"}},
        ]
    )
    notebook = export_notebook(page)
    nbformat.validate(notebook)
    sources = [cell.source for cell in notebook.cells]
    assert sources[0] == "### 소개"
    assert sources[1] == "<p>문단</p>"
    assert sources[2] == "> 인용\n>\n> — 누군가"
    assert "**Tip**" in sources[3] and "팁" in sources[3]
    assert sources[4] == "```python\nx = 1\n```"
    assert sources[5].startswith("![대체](attachment:") and notebook.cells[5].attachments
    assert sources[6] == "[영상](https://example.com/v)"


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"{not json", NotebookInvalid, "not valid JSON"),
        (b"\xff\xfe\x00garbage", NotebookInvalid, "not UTF-8"),
        (
            json.dumps({"cells": "nope", "nbformat": 4, "nbformat_minor": 5, "metadata": {}}).encode(),
            NotebookInvalid,
            "not a readable notebook",
        ),
        (
            json.dumps(
                {
                    "cells": [{"cell_type": "code", "source": "x", "metadata": {}, "id": "a"}],
                    "nbformat": 4,
                    "nbformat_minor": 5,
                    "metadata": {},
                }
            ).encode(),
            NotebookInvalid,
            r"not valid \(nbformat\): '(outputs|execution_count)' is a required property",
        ),
        (json.dumps({"hello": "world"}).encode(), NotebookInvalid, "not"),
    ],
)
def test_broken_notebooks_are_refused_clearly(site_root, data, error, message):
    before = counts()
    with pytest.raises(error, match=message):
        import_notebook(data, parent=site_root)
    assert counts() == before


def test_huge_notebook_is_refused(site_root, settings, notebook_bytes):
    settings.LMS_CMS_BLOCKS = {**settings.LMS_CMS_BLOCKS, "NOTEBOOK_MAX_BYTES": 1000}
    with pytest.raises(NotebookTooLarge, match=r"largest accepted is 0\.0 MB"):
        import_notebook(notebook_bytes, parent=site_root)
    settings.LMS_CMS_BLOCKS = {
        **settings.LMS_CMS_BLOCKS,
        "NOTEBOOK_MAX_BYTES": 10**8,
        "NOTEBOOK_MAX_CELLS": 3,
    }
    with pytest.raises(NotebookTooLarge, match="8 cells"):
        import_notebook(notebook_bytes, parent=site_root)


def test_unknown_kernelspec(site_root, notebook_bytes):
    notebook = json.loads(notebook_bytes)
    notebook["metadata"]["kernelspec"]["name"] = "fortran"
    with pytest.raises(
        UnknownKernelspec,
        match="'fortran' is not one of the available environments \\(python3, pytorch-gpu\\)",
    ):
        import_notebook(json.dumps(notebook), parent=site_root)
    page = import_notebook(json.dumps(notebook), parent=site_root, environment="pytorch-gpu")
    assert {child.value["environment"] for child in page.body if child.block_type == "jupyter"} == {
        "pytorch-gpu"
    }


def test_undecodable_image_leaves_nothing_half_imported(site_root, notebook_bytes):
    notebook = json.loads(notebook_bytes)
    # the attachment is fine (and is written first); the output image further down is not an image
    notebook["cells"][3]["outputs"][0]["data"]["image/png"] = base64.b64encode(
        b"definitely not a png"
    ).decode()
    before = counts()
    with pytest.raises(NotebookImageError, match=r"^The image in cell 4, output 1 cannot be read as a PNG"):
        import_notebook(json.dumps(notebook), parent=site_root)
    assert counts() == before


def test_missing_attachment(site_root, notebook_bytes):
    notebook = json.loads(notebook_bytes)
    del notebook["cells"][1]["attachments"]
    with pytest.raises(NotebookInvalid, match=r"diagram\.png"):
        import_notebook(json.dumps(notebook), parent=site_root)


def test_management_commands(site_root, tmp_path, notebook_bytes):
    path = tmp_path / "수업.ipynb"
    path.write_bytes(notebook_bytes)
    out = StringIO()
    call_command(
        "lms_cms_blocks_import_notebook", str(path), "--parent", str(site_root.pk), "--publish", stdout=out
    )
    assert "넘파이 기초 · NumPy basics" in out.getvalue() and "published" in out.getvalue()
    page = Page.objects.get(slug="넘파이-기초-numpy-basics").specific
    assert page.live
    target = tmp_path / "out.ipynb"
    call_command("lms_cms_blocks_export_notebook", page.slug, "-o", str(target), stderr=StringIO())
    exported = nbformat.read(target, as_version=4)
    assert [c.source for c in exported.cells][:1] == [
        nbformat.reads(notebook_bytes.decode(), 4).cells[0].source
    ]
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{")
    with pytest.raises(CommandError, match=r"broken\.ipynb: The file is not a notebook"):
        call_command("lms_cms_blocks_import_notebook", str(broken), "--parent", str(site_root.pk))
    with pytest.raises(CommandError, match="No page"):
        call_command("lms_cms_blocks_import_notebook", str(path), "--parent", "no-such-page")


@pytest.fixture
def admin_client_(client, django_user_model):
    user = django_user_model.objects.create_superuser("editor", "editor@example.com", "pw")
    client.force_login(user)
    return client


def test_admin_upload(admin_client_, site_root, lesson_model, notebook_bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = "/cms/lms-cms-blocks/import-notebook/"
    response = admin_client_.get(url)
    assert response.status_code == 200 and b"Import a notebook" in response.content
    upload = SimpleUploadedFile("lesson.ipynb", notebook_bytes, content_type="application/x-ipynb+json")
    response = admin_client_.post(
        url,
        {
            "notebook": upload,
            "parent": site_root.pk,
            "page_type": lesson_model._meta.label_lower,
            "title": "",
            "environment": "",
        },
    )
    page = lesson_model.objects.get(slug="넘파이-기초-numpy-basics")
    assert response.status_code == 302 and response["Location"] == f"/cms/pages/{page.pk}/edit/"
    before = counts()
    bad = SimpleUploadedFile("bad.ipynb", b"{", content_type="application/x-ipynb+json")
    response = admin_client_.post(
        url, {"notebook": bad, "parent": site_root.pk, "page_type": lesson_model._meta.label_lower}
    )
    assert response.status_code == 400
    assert "The file is not a notebook: it is not valid JSON." in response.content.decode()
    assert counts() == before
    # export from the admin
    response = admin_client_.get(f"/cms/lms-cms-blocks/pages/{page.pk}/notebook/")
    assert response.status_code == 200 and response["Content-Type"] == "application/x-ipynb+json"
    assert "filename*=UTF-8''" in response["Content-Disposition"]
    assert nbformat.reads(response.content.decode(), as_version=4).cells[0].source.startswith("# 넘파이")


def test_admin_upload_of_an_undecodable_image_says_so(admin_client_, site_root, lesson_model):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from nbformat.v4 import new_markdown_cell, new_notebook

    cell = new_markdown_cell("![x](attachment:x.png)")
    cell.attachments = {"x.png": {"image/png": base64.b64encode(png_bytes()[:20]).decode()}}  # truncated PNG
    data = nbformat.writes(
        new_notebook(cells=[cell], metadata={"kernelspec": {"name": "python3", "display_name": "P"}})
    )
    before = counts()
    response = admin_client_.post(
        "/cms/lms-cms-blocks/import-notebook/",
        {
            "notebook": SimpleUploadedFile("x.ipynb", data.encode()),
            "parent": site_root.pk,
            "page_type": lesson_model._meta.label_lower,
        },
    )
    assert response.status_code == 400
    assert "The image in cell 1, attachment x.png cannot be read as a PNG, JPEG" in response.content.decode()
    assert counts() == before


def test_errors_are_translated(site_root):
    from django.utils import translation

    with translation.override("ko"), pytest.raises(NotebookInvalid) as info:
        import_notebook(b"{not json", parent=site_root)
    assert str(info.value) == "파일이 노트북이 아닙니다: 올바른 JSON이 아닙니다."


def test_import_of_an_older_notebook_with_tables_jpeg_and_html(site_root):
    from .conftest import NOTEBOOKS

    page = import_notebook((NOTEBOOKS / "plots_v4_4.ipynb").read_bytes(), parent=site_root, title="결과")
    markdown, code = page.body
    html = markdown.block.get_api_representation(markdown.value)["html"]
    assert "<table>" in html and "<td>0.98</td>" in html
    assert '<div class="math display">\\[\\begin{aligned}' in html
    assert html.count('<img src="/') == 2
    assert code.value["environment"] == "pytorch-gpu"
    jpeg, table = code.value["outputs"]
    assert base64.b64decode(jpeg["data"]["image/jpeg"])[:2] == b"\xff\xd8"
    assert table["data"]["text/html"] == "<table><tr><td>한글</td></tr></table>"
    assert get_image_model().objects.count() == 3


# -- images that do not decode, image budgets, nothing left behind ---------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def truncated_png(size=(64, 48)) -> bytes:
    """A PNG whose signature, header and chunk checksums are all valid, but whose pixel data stops half way (as
    a notebook cut short by a crashed kernel or a bad merge has it): only decoding it shows it is broken."""
    width, height = size
    rows = b"".join(b"\x00" + bytes((x * 7 + y) % 256 for x in range(width * 3)) for y in range(height))
    pixels = zlib.compress(rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels[: len(pixels) // 2])
        + _chunk(b"IEND", b"")
    )


def bomb_png(size=(100_000, 100_000)) -> bytes:
    """A PNG claiming ten gigapixels (what a decompression bomb declares), whose pixels are a few bytes of zlib."""
    width, height = size
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    pixels = zlib.compress(bytes(1_000_000), 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")


def image_notebook(*images, mime="image/png") -> str:
    """A notebook with one code cell per image, each showing it as its first output (base64 ``str`` or bytes)."""
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    cells = [
        new_code_cell(
            f"plot({number})",
            outputs=[
                new_output(
                    "display_data",
                    data={mime: image if isinstance(image, str) else base64.b64encode(image).decode()},
                )
            ],
        )
        for number, image in enumerate(images, start=1)
    ]
    return nbformat.writes(
        new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    )


def media_files(settings) -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return (
        {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}
        if root.exists()
        else set()
    )


@pytest.fixture
def no_decoding(monkeypatch):
    """Fails the test if any image's pixels are decoded (reading its header is fine)."""
    from PIL import ImageFile

    def load(self):
        raise AssertionError(f"a {self.size[0]} x {self.size[1]} image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def _jpeg_cut_short():
    buffer = io.BytesIO()
    PILImage.radial_gradient("L").resize((400, 300)).save(buffer, format="JPEG")
    return buffer.getvalue()[: buffer.tell() // 2]


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (truncated_png(), "cannot be decoded: image file is truncated"),
        (_jpeg_cut_short(), "cannot be decoded: image file is truncated"),
        ("this is not base64 !!!", "is not valid base64"),
        (b"GIF89a but nothing after it", "cannot be read as a PNG, JPEG, GIF or WebP image"),
        (png_bytes(fmt="BMP"), "cannot be read as a PNG, JPEG, GIF or WebP image"),
        (png_bytes()[:20], "cannot be read as a PNG, JPEG, GIF or WebP image"),  # cut inside its header
        (bomb_png(), r"is too large: it claims over \d+ pixels \(a decompression bomb\)"),
        (
            bomb_png((10_000, 10_000)),
            r"is too large: 10000 x 10000 pixels; the largest accepted is 40000000 pixels "
            r"\(NOTEBOOK_MAX_IMAGE_PIXELS\)\.",
        ),
    ],
    ids=[
        "png-cut-short",
        "jpeg-cut-short",
        "bad-base64",
        "not-an-image",
        "bmp",
        "header-cut",
        "bomb",
        "100mp",
    ],
)
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's, for the 100 MP one
def test_an_undecodable_image_is_refused_naming_its_cell_and_output(site_root, settings, image, message):
    before, files = counts(), media_files(settings)
    data = image_notebook(png_bytes("blue"), image)
    with pytest.raises(NotebookImageError, match=f"^The image in cell 2, output 1 {message}") as info:
        import_notebook(data, parent=site_root)
    assert (info.value.cell, info.value.output) == (2, 1)
    assert counts() == before and media_files(settings) == files


def test_a_refused_import_leaves_no_file_behind(site_root, settings):
    """The third image is broken: the first two are not written either (the whole import is refused)."""
    before = media_files(settings)
    data = image_notebook(png_bytes("red"), png_bytes("green"), truncated_png())
    with pytest.raises(NotebookImageError, match="cell 3, output 1"):
        import_notebook(data, parent=site_root)
    assert media_files(settings) == before
    assert counts()[2] == 0
    # and the same notebook without its broken image imports, writing its two images
    page = import_notebook(image_notebook(png_bytes("red"), png_bytes("green")), parent=site_root)
    written = media_files(settings) - before
    assert len(written) == 2 and all(name.startswith("original_images/cell") for name in written)
    assert [child.value["outputs"][0]["data"]["image/png"][:4] for child in page.body] == ["iVBO", "iVBO"]


def test_a_failure_after_the_images_are_written_removes_them(site_root, settings):
    """The page cannot be made (its slug is taken) once its images are saved: their files go with them."""
    import_notebook(image_notebook(png_bytes("red")), parent=site_root, slug="taken")
    before, files = counts(), media_files(settings)
    with pytest.raises(NotebookInvalid, match="slug"):
        import_notebook(image_notebook(png_bytes("red"), png_bytes("green")), parent=site_root, slug="taken")
    assert counts() == before and media_files(settings) == files


def test_too_many_images_are_refused_before_any_is_decoded(site_root, settings, no_decoding):
    settings.LMS_CMS_BLOCKS = {**settings.LMS_CMS_BLOCKS, "NOTEBOOK_MAX_IMAGES": 2}
    with pytest.raises(
        NotebookTooLarge, match=r"^The notebook has 3 images; the most accepted is 2 \(NOTEBOOK_MAX_IMAGES\)"
    ):
        import_notebook(image_notebook(png_bytes(), png_bytes(), png_bytes()), parent=site_root)


def test_too_many_pixels_in_all_are_refused_before_any_is_decoded(site_root, settings, no_decoding):
    """414 images of 36 megapixels each (a 19 MB notebook took two minutes to import): refused from the
    headers alone, naming the budget and the setting that raises it."""
    buffer = io.BytesIO()
    PILImage.new("1", (6000, 6000)).save(buffer, format="PNG")  # 36 megapixels in a few kilobytes
    data = image_notebook(*[buffer.getvalue()] * 414)
    files = media_files(settings)
    with pytest.raises(NotebookTooLarge) as info:
        import_notebook(data, parent=site_root)
    assert str(info.value) == (
        "The notebook's images have 14904 megapixels in all; the most accepted is 200 megapixels "
        "(NOTEBOOK_MAX_TOTAL_PIXELS)."
    )
    assert media_files(settings) == files and counts()[2] == 0


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's own, from the header
def test_one_image_over_pillows_bomb_guard_is_refused(site_root, monkeypatch, no_decoding):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # the site lowered Pillow's guard below 40 x 30
    with pytest.raises(NotebookImageError, match=r"40 x 30 pixels; the largest accepted is 1000 pixels"):
        import_notebook(image_notebook(png_bytes(size=(40, 30))), parent=site_root)


def test_hundreds_of_ordinary_plots_are_within_the_default_budgets(site_root, settings):
    buffer = io.BytesIO()
    PILImage.new("P", (640, 480), 3).save(buffer, format="PNG")  # matplotlib's default figure size
    page = import_notebook(image_notebook(*[buffer.getvalue()] * 300), parent=site_root)
    assert len(page.body) == 300 and get_image_model().objects.count() == 300
    assert len(media_files(settings)) == 300


def test_admin_upload_of_a_truncated_png_shows_the_form_with_the_message(
    admin_client_, site_root, lesson_model
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = counts()
    response = admin_client_.post(
        "/cms/lms-cms-blocks/import-notebook/",
        {
            "notebook": SimpleUploadedFile(
                "plots.ipynb", image_notebook(png_bytes(), truncated_png()).encode()
            ),
            "parent": site_root.pk,
            "page_type": lesson_model._meta.label_lower,
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "<form" in page and 'name="notebook"' in page  # the form again, to choose another file
    assert "The image in cell 2, output 1 cannot be decoded: image file is truncated" in page
    assert counts() == before


def test_command_refuses_an_undecodable_image_with_exit_status_1(
    site_root, tmp_path, capsys, settings, monkeypatch
):
    """As ``manage.py`` runs it: the message on standard error, exit status 1."""
    from django.db import connections

    from lms_cms_blocks.management.commands.lms_cms_blocks_import_notebook import Command

    monkeypatch.setattr(connections, "close_all", lambda: None)  # the test's transaction is still in use

    path = tmp_path / "plots.ipynb"
    path.write_text(image_notebook(png_bytes(), png_bytes(), truncated_png()))
    files = media_files(settings)
    with pytest.raises(SystemExit) as exit_:
        Command().run_from_argv(
            ["manage.py", "lms_cms_blocks_import_notebook", str(path), "--parent", str(site_root.pk)]
        )
    assert exit_.value.code == 1
    assert capsys.readouterr().err.strip() == (
        "CommandError: plots.ipynb: The image in cell 3, output 1 cannot be decoded: image file is truncated "
        "(0 bytes not processed)."
    )
    assert media_files(settings) == files and counts()[2] == 0


@pytest.mark.parametrize(
    "value", [{"NOTEBOOK_MAX_IMAGES": 0}, {"NOTEBOOK_MAX_TOTAL_PIXELS": 2.5e8}, {"NOTEBOOK_MAX_IMAGES": True}]
)
def test_the_budget_settings_are_checked(settings, value):
    from lms_cms_blocks.checks import settings_check

    settings.LMS_CMS_BLOCKS = value
    errors = settings_check()
    assert [error.id for error in errors] == ["lms_cms_blocks.E004"]
    assert "must be a positive integer" in errors[0].msg


def test_the_upload_form_states_the_limits(admin_client_):
    response = admin_client_.get("/cms/lms-cms-blocks/import-notebook/")
    assert "At most 21.0 MB, 500 images and 200 megapixels of images in all." in response.content.decode()
