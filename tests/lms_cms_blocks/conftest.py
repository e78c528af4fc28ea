"""Fixtures of the lms_cms_blocks tests: a lesson page model of whichever project runs them, images, notebooks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.images import ImageFile
from PIL import Image as PILImage

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"

#: What the tests' kernelspec chooser offers.
KERNELSPECS = [("python3", "Python 3"), ("pytorch-gpu", "PyTorch (GPU)")]


def fixed_kernelspecs():
    return list(KERNELSPECS)


@pytest.fixture(autouse=True)
def _blocks_settings(settings, tmp_path):
    from django.core.cache import caches

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.LMS_CMS_BLOCKS = {"KERNELSPECS": "tests.lms_cms_blocks.conftest.fixed_kernelspecs"}
    for cache in caches.all():  # kernelspecs and Wagtail's renditions are cached; ids repeat between tests
        cache.clear()
    yield
    for cache in caches.all():
        cache.clear()


@pytest.fixture
def lesson_model():
    from lms_cms_blocks.notebooks import lesson_page_models

    (model,) = lesson_page_models()
    return model


@pytest.fixture
def site_root(db):
    from wagtail.models import Site

    return Site.objects.get(is_default_site=True).root_page.specific


def png_bytes(color="red", size=(40, 30), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def make_image(db):
    from wagtail.images import get_image_model

    def make(title="a picture", color="red", size=(40, 30)):
        image = get_image_model()(title=title)
        image.file = ImageFile(io.BytesIO(png_bytes(color, size)), name=f"{title.replace(' ', '-')}.png")
        image.save()
        return image

    return make


@pytest.fixture
def make_lesson(site_root, lesson_model):
    def make(title="A lesson", body=(), publish=True, parent=None, **fields):
        page = lesson_model(title=title, body=list(body), live=publish, **fields)
        (parent or site_root).add_child(instance=page)
        revision = page.save_revision()
        if publish:
            revision.publish()
            page.refresh_from_db()
        return page

    return make


@pytest.fixture
def notebook_bytes():
    return (NOTEBOOKS / "korean_math_images.ipynb").read_bytes()
