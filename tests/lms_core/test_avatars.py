import io

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse
from PIL import Image

from lms_core.avatars import identicon_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_identicon_is_a_deterministic_png_of_the_configured_size():
    first = identicon_png("user:1")
    assert first.startswith(PNG_MAGIC)
    assert first == identicon_png("user:1")
    assert first != identicon_png("user:2")
    assert Image.open(io.BytesIO(first)).size == (120, 120)


def test_identicon_uses_the_configured_colours():
    with override_settings(
        LMS_CORE={"AVATAR_SIZE": 40, "AVATAR_FOREGROUND": ["#ff0000"], "AVATAR_BACKGROUND": "#00ff00"}
    ):
        image = Image.open(io.BytesIO(identicon_png("user:1"))).convert("RGB")
    assert image.size == (40, 40)
    colours = {colour for _, colour in image.getcolors()}
    assert colours == {(255, 0, 0), (0, 255, 0)}


@pytest.mark.django_db
def test_avatar_view(client):
    User = get_user_model()
    learner = User.objects.create_user("learner", password="pw-learner-1")
    other = User.objects.create_user("학습자", password="pw-other-1")
    url = reverse("lms_core:avatar", args=[other.pk])

    response = client.get(url)
    assert response.status_code == 302  # anonymous: to the login page
    assert "/login/" in response["Location"]

    client.force_login(learner)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content == identicon_png(f"user:{other.pk}")
    assert "private" in response["Cache-Control"]

    etag = response["ETag"]
    assert client.get(url, headers={"if-none-match": etag}).status_code == 304
    assert client.get(reverse("lms_core:avatar", args=[999999])).status_code == 404
    assert client.post(url).status_code == 405


@pytest.mark.django_db
def test_avatar_etag_changes_with_the_look(client):
    user = get_user_model().objects.create_user("learner", password="pw-learner-1")
    client.force_login(user)
    url = reverse("lms_core:avatar", args=[user.pk])
    before = client.get(url)["ETag"]
    with override_settings(LMS_CORE={"AVATAR_SIZE": 64}):
        after = client.get(url)
    assert after["ETag"] != before
    assert Image.open(io.BytesIO(after.content)).size == (64, 64)
