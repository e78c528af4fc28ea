"""The shipped translation catalogues (``<app>/locale/<lang>/LC_MESSAGES/<domain>.po`` and ``.mo``).

Every catalogue found under ``src/*/locale`` and ``example_project/*/locale`` is checked, in each domain it
ships (``django``; ``djangojs`` for an app with translatable JavaScript), so an app that ships its first
catalogue is covered without touching this file:

- the Korean catalogue is complete: no untranslated, no fuzzy entry; its header says Korean (one plural form);
- each Korean message keeps its source's placeholders (``%(name)s``, ``%d``, ``{name}``), HTML tags and
  leading/trailing line breaks, so formatting it cannot raise or lose a value;
- the English catalogue (English is the source language) has the same messages, all left empty;
- each ``.mo`` holds exactly what its ``.po`` says (read back with Python's :mod:`gettext`, so no
  GNU gettext is needed for this);
- the catalogue matches the source: ``makemessages`` run on a copy of the app finds no message that is
  missing from the catalogue and none that is gone from the source (this one needs GNU gettext);
- real pages and API errors come out in Korean with ``Accept-Language: ko`` (per installed app, so the
  ``*_only`` projects run the part for their app and skip the rest).

How to update the catalogues: ``docs/developers/translations.md``.
"""

from __future__ import annotations

import gettext
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation as django_translation

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"

#: Each language we ship, with the plural rule its header must carry.
PLURAL_FORMS = {"ko": "nplurals=1; plural=0;", "en": "nplurals=2; plural=(n != 1);"}


@dataclass(frozen=True)
class Shipped:
    """One translation domain of one app: ``django`` (Python and templates) or ``djangojs`` (JavaScript)."""

    app_dir: Path
    domain: str

    def __str__(self) -> str:
        return self.app_dir.name if self.domain == "django" else f"{self.app_dir.name}-{self.domain}"

    def po(self, language: str) -> Path:
        return self.app_dir / "locale" / language / "LC_MESSAGES" / f"{self.domain}.po"

    @property
    def update_hint(self) -> str:
        """The commands that bring this catalogue up to date, for failure messages."""
        return (
            f"run `django-admin makemessages -d {self.domain} -l ko -l en --no-wrap --add-location file "
            f"--no-obsolete` inside {self.app_dir.relative_to(ROOT)}, translate the new Korean entries, then "
            "`django-admin compilemessages` there (docs/developers/translations.md)"
        )


def shipped_catalogues() -> list[Shipped]:
    """Every app (and the example site) with a ``locale`` folder, once per domain it ships."""
    found = []
    for locale in sorted([*ROOT.glob("src/*/locale"), *ROOT.glob("example_project/*/locale")]):
        domains = {path.stem for path in locale.glob("*/LC_MESSAGES/*.po")} or {"django"}
        found += [Shipped(locale.parent, domain) for domain in sorted(domains)]
    return found


# -- reading .po files -----------------------------------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(text: str, where: str) -> str:
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        raise ValueError(f"{where}: not a quoted PO string: {text!r}")

    def replace(match: re.Match) -> str:
        char = match.group(1)
        if char not in _ESCAPES:
            raise ValueError(f"{where}: unknown escape \\{char}")
        return _ESCAPES[char]

    return re.sub(r"\\(.)", replace, text[1:-1])


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> str:
        """The key Python's :mod:`gettext` files it under (context and id joined by EOT)."""
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"

    @property
    def label(self) -> str:
        return f"line {self.line}: {self.msgid!r}"

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())


@dataclass
class Catalogue:
    path: Path
    header: Entry
    entries: list[Entry]

    def __str__(self) -> str:
        return str(self.path.relative_to(ROOT)) if self.path.is_relative_to(ROOT) else str(self.path)

    @property
    def headers(self) -> dict[str, str]:
        pairs = (line.split(":", 1) for line in self.header.msgstr.get(0, "").splitlines() if ":" in line)
        return {name.strip(): value.strip() for name, value in pairs}


_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")\s*$")


def read_po(path: Path) -> Catalogue:
    """A .po file's entries (obsolete ``#~`` entries left out); strict about what it does not understand."""
    entries: list[Entry] = []
    entry, last, started = Entry(), None, False

    def finish():
        nonlocal entry, last, started
        if started:
            entries.append(entry)
        entry, last, started = Entry(), None, False

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        where = f"{path}:{number}"
        if not line:
            finish()
        elif line.startswith("#~"):
            continue
        elif line.startswith("#,"):
            if started and last is not None:
                finish()
            entry.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
        elif line.startswith("#"):
            if started and last is not None:
                finish()
        elif match := _KEYWORD.match(line):
            keyword, index, text = match.groups()
            if keyword == "msgctxt" or (keyword == "msgid" and last is not None and last[0] != "msgctxt"):
                finish()
            if not started:
                entry.line, started = number, True
            value = _unquote(text, where)
            if keyword == "msgctxt":
                entry.msgctxt, last = value, ("msgctxt", None)
            elif keyword == "msgid":
                entry.msgid, last = value, ("msgid", None)
            elif keyword == "msgid_plural":
                entry.msgid_plural, last = value, ("msgid_plural", None)
            else:
                slot = int(index) if index is not None else 0
                entry.msgstr[slot], last = value, ("msgstr", slot)
        elif line.startswith('"') and last is not None:
            value = _unquote(line, where)
            kind, slot = last
            if kind == "msgstr":
                entry.msgstr[slot] += value
            else:
                setattr(entry, kind, (getattr(entry, kind) or "") + value)
        else:
            raise ValueError(f"{where}: cannot read {raw!r}")
    finish()
    if not entries or entries[0].msgid != "" or entries[0].msgctxt is not None:
        raise ValueError(f"{path}: no header entry")
    return Catalogue(path, entries[0], entries[1:])


def catalogue(shipped: Shipped, language: str) -> Catalogue:
    path = shipped.po(language)
    if not path.exists():
        pytest.fail(f"{shipped} ships a locale folder but no {language} catalogue ({path.relative_to(ROOT)})")
    return read_po(path)


# -- placeholders ----------------------------------------------------------------------------------------------

_PERCENT = re.compile(
    r"%(?:\((?P<name>[^)]+)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?P<type>[diouxXeEfFgGcrsa%])"
)
_BRACE = re.compile(
    r"(?<!\{)\{(?P<field>[A-Za-z_][A-Za-z0-9_]*(?:[.\[][^{}]*)?(?:![rsa])?(?::[^{}]*)?)\}(?!\})"
)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def placeholders(text: str, flags: set[str]) -> dict:
    """What a translation must keep: named and positional %-placeholders, {fields}, HTML tags."""
    named, positional = [], []
    if "python-format" in flags or "%(" in text:
        for match in _PERCENT.finditer(text):
            if match.group("type") == "%":
                continue
            if match.group("name") is not None:
                named.append(f"%({match.group('name')}){match.group('type')}")
            else:
                positional.append(f"%{match.group('type')}")
    braces = sorted(_BRACE.findall(text)) if "python-brace-format" in flags or "{" in text else []
    return {
        "named %-placeholders": sorted(set(named)),
        "positional %-placeholders (in order)": positional,
        "{fields}": sorted(set(braces)),
        "HTML tags": sorted(_TAG.findall(text)),
    }


def placeholder_problems(entry: Entry) -> list[str]:
    problems = []
    for slot, translation in sorted(entry.msgstr.items()):
        if not translation:
            continue
        if entry.msgid_plural is None or (slot == 0 and len(entry.msgstr) > 1):
            source = entry.msgid
        else:
            # Other forms, and the only form of a language with one (Korean), follow the plural source.
            source = entry.msgid_plural
        expected, got = placeholders(source, entry.flags), placeholders(translation, entry.flags)
        if got != expected:
            wrong = {kind: (expected[kind], got[kind]) for kind in expected if expected[kind] != got[kind]}
            problems.append(f"{entry.label} msgstr[{slot}] {translation!r}: expected/got {wrong}")
        for edge, test in (("starts", str.startswith), ("ends", str.endswith)):
            if test(source, "\n") != test(translation, "\n"):
                problems.append(f"{entry.label} msgstr[{slot}]: a line break {edge} one but not the other")
    return problems


def test_placeholder_extraction():
    """The helper the catalogue checks rely on sees what Python's formatting sees."""
    found = placeholders("%(n)d of %(total)s, %d%% at {name!r} in <a href='x'>%s</a>", {"python-format"})
    assert found == {
        "named %-placeholders": ["%(n)d", "%(total)s"],
        "positional %-placeholders (in order)": ["%d", "%s"],
        "{fields}": ["name!r"],
        "HTML tags": ["</a>", "<a href='x'>"],
    }
    wrong = Entry(msgid="Welcome, %(name)s.", msgstr={0: "환영합니다, %(nmae)s."}, flags={"python-format"})
    assert placeholder_problems(wrong)
    lost_break = Entry(msgid="Starting.\n", msgstr={0: "시작 중."})
    assert placeholder_problems(lost_break)
    plural = Entry(
        msgid="%(n)d kernel",
        msgid_plural="%(n)d kernels",
        msgstr={0: "커널 %(n)d개"},
        flags={"python-format"},
    )
    assert placeholder_problems(plural) == []


# -- the catalogue files ---------------------------------------------------------------------------------------

SHIPPED = shipped_catalogues()


def test_the_apps_ship_catalogues():
    """lms_core, lms_kernels and the example site ship theirs (others are found when they add one)."""
    assert {"lms_core", "lms_kernels", "groundup_site"} <= {shipped.app_dir.name for shipped in SHIPPED}


@pytest.mark.parametrize("shipped", SHIPPED, ids=str)
def test_korean_catalogue_is_complete(shipped):
    po = catalogue(shipped, "ko")
    headers = po.headers
    assert "fuzzy" not in po.header.flags, f"{po}: the header is marked fuzzy (a template nobody filled in)"
    assert headers.get("Language") == "ko", headers
    assert headers.get("Plural-Forms") == PLURAL_FORMS["ko"], headers
    assert headers.get("Content-Type") == "text/plain; charset=UTF-8", headers
    assert po.entries, f"{po} has no messages"
    fuzzy = [entry.label for entry in po.entries if "fuzzy" in entry.flags]
    untranslated = [entry.label for entry in po.entries if not entry.translated]
    wrong_forms = [
        entry.label for entry in po.entries if entry.msgid_plural is not None and sorted(entry.msgstr) != [0]
    ]
    assert not fuzzy, f"fuzzy entries in {po}: {fuzzy}"
    assert not untranslated, f"untranslated entries in {po}: {untranslated}"
    assert not wrong_forms, f"Korean has one plural form (msgstr[0] only): {wrong_forms}"


@pytest.mark.parametrize("shipped", SHIPPED, ids=str)
def test_korean_translations_keep_placeholders(shipped):
    po = catalogue(shipped, "ko")
    problems = [problem for entry in po.entries for problem in placeholder_problems(entry)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("shipped", SHIPPED, ids=str)
def test_english_catalogue_is_the_source_left_empty(shipped):
    english, korean = catalogue(shipped, "en"), catalogue(shipped, "ko")
    headers = english.headers
    assert "fuzzy" not in english.header.flags, f"{english}: the header is marked fuzzy"
    assert headers.get("Language") == "en", headers
    assert headers.get("Plural-Forms") == PLURAL_FORMS["en"], headers
    assert not [entry.label for entry in english.entries if "fuzzy" in entry.flags]
    filled = [entry.label for entry in english.entries if any(entry.msgstr.values())]
    assert not filled, f"English is the source language; leave its msgstr empty: {filled}"
    keys = lambda po: sorted((entry.key, entry.msgid_plural) for entry in po.entries)  # noqa: E731
    assert keys(english) == keys(korean), "the English and Korean catalogues list different messages"


@pytest.mark.parametrize("language", sorted(PLURAL_FORMS))
@pytest.mark.parametrize("shipped", SHIPPED, ids=str)
def test_compiled_catalogue_matches_its_source(shipped, language):
    """The .mo that ships is the .po compiled: same messages, same translations, same plural rule."""
    po = catalogue(shipped, language)
    mo_path = po.path.with_suffix(".mo").relative_to(ROOT)
    assert (ROOT / mo_path).exists(), f"{mo_path} is missing: {shipped.update_hint}"
    with (ROOT / mo_path).open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    expected = {}
    for entry in po.entries:
        if not entry.translated or "fuzzy" in entry.flags:
            continue  # msgfmt leaves these out; the source text is shown
        if entry.msgid_plural is None:
            expected[entry.key] = entry.msgstr[0]
        else:
            expected.update({(entry.key, slot): text for slot, text in entry.msgstr.items()})
    actual = {key: value for key, value in compiled._catalog.items() if key != ""}
    stale = sorted(str(key) for key in expected.keys() ^ actual.keys())
    changed = sorted(str(key) for key in expected.keys() & actual.keys() if expected[key] != actual[key])
    hint = shipped.update_hint
    assert not stale and not changed, f"{mo_path} is out of date ({stale + changed}): {hint}"
    assert compiled.info().get("plural-forms") == PLURAL_FORMS[language]


@pytest.fixture
def gettext_tools():
    """GNU gettext (``xgettext``, ``msgmerge``), which ``makemessages`` runs."""
    missing = [tool for tool in ("xgettext", "msgmerge", "msguniq") if shutil.which(tool) is None]
    if missing:
        reason = f"GNU gettext is missing ({', '.join(missing)}; apt-get install gettext)"
        if IN_CI:
            pytest.fail(f"{reason}: required under CI=true", pytrace=False)
        pytest.skip(reason)


@pytest.mark.parametrize("shipped", SHIPPED, ids=str)
def test_catalogue_matches_the_source_strings(shipped, tmp_path, monkeypatch, gettext_tools):
    """``makemessages`` on a copy of the app finds exactly the messages the catalogue has."""
    copy = tmp_path / shipped.app_dir.name
    shutil.copytree(shipped.app_dir, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    monkeypatch.chdir(copy)
    options = {"no_wrap": True, "add_location": "file", "no_obsolete": True, "verbosity": 0}
    call_command("makemessages", locale=["ko"], domain=shipped.domain, **options)
    committed = catalogue(shipped, "ko")
    regenerated = read_po(copy / shipped.po("ko").relative_to(shipped.app_dir))
    keys = lambda po: {(entry.key, entry.msgid_plural) for entry in po.entries}  # noqa: E731
    new = sorted(keys(regenerated) - keys(committed))
    gone = sorted(keys(committed) - keys(regenerated))
    hint = shipped.update_hint
    assert not new, f"strings in {shipped}'s source that its catalogue lacks: {new}; {hint}"
    assert not gone, f"strings in {shipped}'s catalogue that its source no longer has: {gone}; {hint}"


# -- what users see ----------------------------------------------------------------------------------------------


def needs_app(label: str):
    return pytest.mark.skipif(
        not apps.is_installed(label), reason=f"{label} is not installed in this project"
    )


@pytest.fixture
def korean_client(settings):
    """A client that asks for Korean, in a project that picks the language from the request.

    The example project has ``LocaleMiddleware``; the bare ``*_only`` test projects do not, so it is added
    there (after the session middleware, where Django's docs put it).
    """
    middleware = list(settings.MIDDLEWARE)
    if LOCALE_MIDDLEWARE not in middleware:
        anchor = "django.contrib.sessions.middleware.SessionMiddleware"
        position = middleware.index(anchor) + 1 if anchor in middleware else 0
        middleware.insert(position, LOCALE_MIDDLEWARE)
        settings.MIDDLEWARE = middleware
    # LocaleMiddleware activates the request's language in this thread and leaves it there: without the
    # middleware, later tests of a *_only project would otherwise run in Korean.
    previous = django_translation.get_language()
    yield Client(headers={"Accept-Language": "ko"})
    if previous:
        django_translation.activate(previous)
    else:
        django_translation.deactivate()


@needs_app("groundup_site")
@pytest.mark.django_db
def test_login_page_in_korean(korean_client):
    page = korean_client.get(reverse("login"))
    assert page.status_code == 200
    html = page.content.decode()
    assert '<html lang="ko">' in html
    assert "<h1>로그인</h1>" in html
    assert "사용자 이름" in html and "비밀번호" in html
    assert "Log in" not in html and "Username" not in html
    refused = korean_client.post(reverse("login"), {"username": "nobody", "password": "wrong"})
    assert refused.status_code == 200
    assert "비밀번호가 일치하지 않습니다" in refused.content.decode()


@needs_app("groundup_site")
@needs_app("lms_core")
@pytest.mark.django_db
def test_learner_home_page_in_korean(korean_client):
    from lms_core.testing.factories import make_cohort, make_course, make_enrollment, make_user

    anonymous = korean_client.get(reverse("home")).content.decode()
    assert "직접 실행하며 배우는 딥러닝" in anonymous and "로그인하고 학습 시작하기" in anonymous
    learner = make_user("hangul-learner")
    make_enrollment(learner, make_cohort(make_course("딥러닝 기초", contents=2)))
    korean_client.force_login(learner)
    home = korean_client.get(reverse("home")).content.decode()
    assert "내 강의" in home and "딥러닝 기초" in home
    assert "필수 학습 콘텐츠 0% 완료" in home
    assert "My courses" not in home and "required contents done" not in home


@needs_app("lms_core")
@pytest.mark.django_db
def test_core_api_errors_in_korean(korean_client):
    from lms_core.testing.factories import make_cohort, make_course, make_enrollment, make_user

    enrollment = make_enrollment(make_user("api-learner"), make_cohort(make_course("Korean API", contents=1)))
    korean_client.force_login(enrollment.user)
    missing = korean_client.get(reverse("lms_core:api-my-enrollment-detail", args=[10**9]))
    assert missing.status_code == 404
    assert missing.json() == {"detail": "이 ID의 수강 등록이 없습니다."}
    content = enrollment.cohort.course.contents.get()
    invalid = korean_client.post(
        reverse("lms_core:api-my-enrollment-progress", args=[enrollment.pk]),
        {"content": content.pk},
        content_type="application/json",
    )
    assert invalid.status_code == 400
    assert invalid.json()["non_field_errors"] == ["percent(0~100)와 completed: true 중 하나 이상을 보내세요."]
    # The same request in English: the language comes from the request, not from the last one.
    english = Client(headers={"Accept-Language": "en"})
    english.force_login(enrollment.user)
    response = english.get(reverse("lms_core:api-my-enrollment-detail", args=[10**9]))
    assert response.json() == {"detail": "You have no enrollment with this id."}


@needs_app("lms_kernels")
@pytest.mark.django_db
def test_kernel_rest_errors_in_korean(korean_client, django_user_model):
    anonymous = korean_client.get(reverse("lms_kernels:kernel-list"))
    assert anonymous.status_code == 403
    assert anonymous.json() == {
        "message": "커널 서비스를 사용하려면 로그인하거나 API 토큰을 보내세요.",
        "reason": "not_authenticated",
    }
    korean_client.force_login(django_user_model.objects.create_user("kernel-learner", password="pw"))
    missing = korean_client.get(reverse("lms_kernels:kernel-detail", kwargs={"kernel_id": uuid.uuid4()}))
    assert missing.status_code == 404
    assert missing.json()["message"].startswith("해당 커널이 없습니다")
    bad = korean_client.post(reverse("lms_kernels:kernel-list"), b"[1]", content_type="application/json")
    assert bad.status_code == 400
    assert bad.json()["message"] == "요청 본문은 JSON 객체여야 합니다."


def test_lms_common_messages_in_korean():
    """lms_common is not an installed app: its messages come from its own catalogue, in every project."""
    from lms_common.jsoninput import JSONInputError, loads

    with django_translation.override("ko"), pytest.raises(JSONInputError) as refused:
        loads("[" * 100 + "]" * 100)
    assert "JSON이 너무 깊게 중첩되어 있습니다" in str(refused.value)
    with django_translation.override("en"), pytest.raises(JSONInputError) as refused:
        loads("[" * 100 + "]" * 100)
    assert "The JSON nests too deeply" in str(refused.value)
