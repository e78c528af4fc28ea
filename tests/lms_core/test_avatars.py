import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse
from PIL import Image

from lms_core.avatars import avatar_key, avatar_url, identicon_png
from lms_core.checks import settings_check

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
    url = avatar_url(other)

    response = client.get(url)
    assert response.status_code == 302  # anonymous: to the login page
    assert "/login/" in response["Location"]

    client.force_login(learner)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content == identicon_png(avatar_key(other))
    assert "private" in response["Cache-Control"]

    etag = response["ETag"]
    assert client.get(url, headers={"if-none-match": etag}).status_code == 304
    assert client.get("/core/avatars/999999.png").status_code == 404  # pks name no avatar
    assert client.post(url).status_code == 405


@pytest.mark.django_db
def test_avatar_etag_changes_with_the_look(client):
    user = get_user_model().objects.create_user("learner", password="pw-learner-1")
    client.force_login(user)
    url = avatar_url(user)
    before = client.get(url)["ETag"]
    with override_settings(LMS_CORE={"AVATAR_SIZE": 64}):
        after = client.get(url)
    assert after["ETag"] != before
    assert Image.open(io.BytesIO(after.content)).size == (64, 64)


# -- opaque keys: no user ids in avatar URLs -----------------------------------------------------------------

OPAQUE = re.compile(r"^(http://testserver)?/core/avatars/[0-9a-f]{32}\.png(\?size=\d+)?$")


@pytest.mark.django_db
def test_avatar_urls_name_users_by_an_opaque_key(settings):
    User = get_user_model()
    users = [User.objects.create_user(f"user{i}", password="pw-user-1234") for i in range(3)]
    urls = [avatar_url(user) for user in users]
    assert all(OPAQUE.match(url) for url in urls)
    assert len(set(urls)) == 3
    for user, url in zip(users, urls, strict=True):
        assert f"/{user.pk}." not in url
        assert avatar_url(user) == url  # stable, so browsers keep it cached
    # Only the server can compute a key: it is an HMAC with the secret key.
    settings.SECRET_KEY = "another-secret-key-for-another-site-0123456789"
    assert avatar_url(users[0]) != urls[0]


@pytest.mark.django_db
def test_a_learner_cannot_fetch_avatars_by_sequential_ids(client):
    User = get_user_model()
    learner = User.objects.create_user("learner", password="pw-learner-1")
    others = [User.objects.create_user(f"other{i}", password="pw-other-1234") for i in range(3)]
    client.force_login(learner)
    for pk in range(1, max(u.pk for u in others) + 3):
        for url in (f"/core/avatars/{pk}.png", f"/core/avatars/{pk}.png?size=64"):
            response = client.get(url)
            assert response.status_code == 404, url
            assert response["Content-Type"] != "image/png"
    # A key that belongs to nobody draws a picture too: the answer tells nothing about who exists.
    made_up = client.get(f"/core/avatars/{'0' * 32}.png")
    assert made_up.status_code == 200 and made_up["Content-Type"] == "image/png"
    assert client.get(f"/core/avatars/{'0' * 31}.png").status_code == 404
    assert client.get(f"/core/avatars/{'G' * 32}.png").status_code == 404
    assert client.get(avatar_url(others[0])).content == identicon_png(avatar_key(others[0]))


@pytest.mark.django_db
def test_the_api_hands_out_only_opaque_avatar_urls():
    from rest_framework.test import APIClient

    from lms_core.testing.factories import make_cohort, make_enrollment

    User = get_user_model()
    learner = User.objects.create_user("learner", password="pw-learner-1")
    enrollment = make_enrollment(learner, make_cohort())
    api = APIClient()
    api.force_login(learner)
    (row,) = api.get(reverse("lms_core:api-my-enrollment-list")).json()["results"]
    assert OPAQUE.match(row["learner"]["avatar_url"])
    root = User.objects.create_superuser("root", password="pw-root-1234")
    api.force_login(root)
    rows = api.get(reverse("lms_core:api-cohort-learner-list", args=[enrollment.cohort_id])).json()["results"]
    assert [OPAQUE.match(r["learner"]["avatar_url"]) is not None for r in rows] == [True]
    assert client_can_load(api, row["learner"]["avatar_url"])


def client_can_load(api, url):
    response = api.get(url)
    return response.status_code == 200 and response["Content-Type"] == "image/png"


# -- sizes ----------------------------------------------------------------------------------------------------


@pytest.fixture
def signed_in(client):
    user = get_user_model().objects.create_user("learner", password="pw-learner-1")
    client.force_login(user)
    return client, user


@pytest.mark.django_db
def test_avatar_in_each_allowed_size_with_its_own_etag(signed_in):
    client, user = signed_in
    url = avatar_url(user)
    etags = set()
    for size in (32, 64, 120, 256):
        response = client.get(url, {"size": size})
        assert response.status_code == 200
        assert Image.open(io.BytesIO(response.content)).size == (size, size)
        assert response.content == identicon_png(avatar_key(user), size=size)
        assert response["Cache-Control"] in {"private, max-age=86400", "max-age=86400, private"}
        etags.add(response["ETag"])
        assert client.get(url, {"size": size}, headers={"if-none-match": response["ETag"]}).status_code == 304
    assert len(etags) == 4
    # No size is the default size: the same image and the same ETag as ?size=120.
    default = client.get(url)
    assert default.content == client.get(url, {"size": 120}).content
    assert default["ETag"] == client.get(url, {"size": 120})["ETag"]
    # An ETag of one size does not validate another size.
    small_etag = client.get(url, {"size": 32})["ETag"]
    assert client.get(url, {"size": 64}, headers={"if-none-match": small_etag}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("size", ["65", "0", "", "abc", "64px", "-64", "²", "1" * 5000, "64.0"])
def test_avatar_size_not_allowed_is_a_400_with_a_message(signed_in, size):
    client, user = signed_in
    url = avatar_url(user)
    response = client.get(url, {"size": size})
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == "The avatar size must be one of 32, 64, 120, 256 (pixels)."
    # Even with an ETag in hand: a bad size is never "not modified".
    etag = client.get(url)["ETag"]
    assert client.get(url, {"size": size}, headers={"if-none-match": etag}).status_code == 400


@pytest.mark.django_db
def test_avatar_sizes_follow_the_setting(signed_in):
    client, user = signed_in
    url = avatar_url(user)
    with override_settings(LMS_CORE={"AVATAR_SIZE": 48, "AVATAR_SIZES": [48, 96]}):
        assert Image.open(io.BytesIO(client.get(url).content)).size == (48, 48)
        assert Image.open(io.BytesIO(client.get(url, {"size": 96}).content)).size == (96, 96)
        response = client.get(url, {"size": 64})
    assert response.status_code == 400
    assert "48, 96" in response.content.decode()


# -- avatar_url -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_avatar_url_is_stable_and_validated(rf):
    user = get_user_model().objects.create_user("learner", password="pw-learner-1")
    base = reverse("lms_core:avatar", args=[avatar_key(user)])
    assert avatar_url(user) == base
    assert avatar_url(user.pk) == base
    assert avatar_url(user, size=64) == f"{base}?size=64"
    assert avatar_url(user, 64) == avatar_url(user, size=64)
    request = rf.get("/api/whatever", HTTP_HOST="localhost:8000", secure=True)
    assert avatar_url(user, size=32, request=request) == f"https://localhost:8000{base}?size=32"
    for bad in (65, "64", True, 0):
        with pytest.raises(ValueError, match="AVATAR_SIZES"):
            avatar_url(user, size=bad)
    with pytest.raises(ValueError, match="unsaved"):
        avatar_url(get_user_model()(username="nobody"))


@pytest.mark.django_db
def test_avatar_url_answers_with_the_image(client):
    user = get_user_model().objects.create_user("learner", password="pw-learner-1")
    client.force_login(user)
    response = client.get(avatar_url(user, size=256))
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (256, 256)


# -- the size settings' checks --------------------------------------------------------------------------------


def test_default_size_must_be_an_allowed_size():
    with override_settings(LMS_CORE={"AVATAR_SIZE": 96}):
        (error,) = settings_check()
    assert error.id == "lms_core.E004"
    assert "96 must be one of AVATAR_SIZES [32, 64, 120, 256]" in error.msg
    with override_settings(LMS_CORE={"AVATAR_SIZE": 96, "AVATAR_SIZES": [96, 192]}):
        assert settings_check() == []


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ([], "non-empty list"),
        ("32,64", "non-empty list"),
        ([32, 8, 120], "from 16 to 1024, not 8"),
        ([32, 2048, 120], "from 16 to 1024, not 2048"),
        ([32, "64", 120], "not '64'"),
        ([32, 120, 32], "lists a size twice"),
    ],
)
def test_invalid_size_lists_are_reported_once(sizes, message):
    with override_settings(LMS_CORE={"AVATAR_SIZES": sizes}):
        errors = settings_check()
    assert [e.id for e in errors] == ["lms_core.E004"]  # not a second error for AVATAR_SIZE
    assert "AVATAR_SIZES" in errors[0].msg
    assert message in errors[0].msg


# -- uploaded pictures (LMS_CORE["PICTURE_URL"]) ------------------------------------------------------------------


def picture_of(user, size):
    """A project's picture lookup: users whose name starts with "photo" uploaded one."""
    if user.get_username().startswith("photo"):
        return f"/media/pictures/{user.get_username()}.jpg" + (f"?w={size}" if size else "")
    return None


@pytest.mark.django_db
def test_an_uploaded_picture_replaces_the_identicon_everywhere(rf, client):
    from rest_framework.test import APIClient

    from lms_core.testing.factories import make_cohort, make_enrollment

    User = get_user_model()
    photographer = User.objects.create_user("photo-kim", password="pw-photo-1")
    plain = User.objects.create_user("plain", password="pw-plain-1")
    with override_settings(LMS_CORE={"PICTURE_URL": f"{__name__}.picture_of"}):
        assert avatar_url(photographer) == "/media/pictures/photo-kim.jpg"
        assert avatar_url(photographer, size=64) == "/media/pictures/photo-kim.jpg?w=64"
        assert avatar_url(photographer.pk) == reverse(
            "lms_core:avatar", args=[avatar_key(photographer)]
        )  # no user object
        assert avatar_url(plain) == reverse("lms_core:avatar", args=[avatar_key(plain)])
        request = rf.get("/", HTTP_HOST="localhost")
        assert avatar_url(photographer, request=request) == "http://localhost/media/pictures/photo-kim.jpg"
        with pytest.raises(ValueError, match="AVATAR_SIZES"):
            avatar_url(photographer, size=65)

        enrollment = make_enrollment(photographer, make_cohort())
        api = APIClient()
        api.force_login(photographer)
        (row,) = api.get(reverse("lms_core:api-my-enrollment-list")).json()["results"]
        assert row["learner"]["avatar_url"] == "http://testserver/media/pictures/photo-kim.jpg"
        root = User.objects.create_superuser("root", password="pw-root-1234")
        make_enrollment(plain, enrollment.cohort)
        api.force_login(root)
        rows = api.get(reverse("lms_core:api-cohort-learner-list", args=[enrollment.cohort_id])).json()[
            "results"
        ]
        assert {r["learner"]["username"]: r["learner"]["avatar_url"] for r in rows} == {
            "photo-kim": "http://testserver/media/pictures/photo-kim.jpg",
            "plain": f"http://testserver{avatar_url(plain)}",
        }


def test_the_picture_setting_is_checked():
    with override_settings(LMS_CORE={"PICTURE_URL": "no.such.module.picture"}):
        (error,) = settings_check()
    assert error.id == "lms_core.E003"
    assert "PICTURE_URL" in error.msg
    with override_settings(LMS_CORE={"PICTURE_URL": "lms_core.conf.DEFAULTS"}):
        (error,) = settings_check()
    assert error.id == "lms_core.E004"
    assert "dotted path of a function" in error.msg
    with override_settings(LMS_CORE={"PICTURE_URL": f"{__name__}.picture_of"}):
        assert settings_check() == []
