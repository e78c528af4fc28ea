"""A REST fuzz test: hostile input to every REST endpoint of the example project, as a signed-in learner.

The endpoints are not listed by hand: they are read from the project's URL patterns (``get_resolver()``), so a
new endpoint is fuzzed from the day it is added. An endpoint is REST when its view is a DRF ``APIView`` or an
``lms_kernels`` API view; the admin and the lesson editor (staff only) are left out. Each gets, as a learner
who owns a real object of each kind (an enrollment, a lesson with saved cell state, a survey response, a kernel
session):

* path ids past 64 bits, negative, zero, and text where an id belongs;
* in every query parameter the view reads (its filters, its pagination, the ones listed below): numbers out of
  range, dates out of range (the year 1 at +14:00, the year 9999 at -12:00), garbage, NUL, a percent-encoded
  lone surrogate, a very long value;
* on every unsafe method: malformed JSON, bodies that are not objects, a deep nesting (``[`` x 50,000), a huge
  body, and in each field of a valid body (and as an extra field): wrong types, ``null``, lone surrogates (as
  JSON ``"\\udfff"`` escapes), NUL characters, out-of-range numbers (``2**64``, ``-1``, ``1e309``, ``NaN``),
  out-of-range and malformed dates, long strings, deep values.

It asserts what a client would see: no 5xx, and every 4xx says something (a JSON message, or a readable page).
Every problem is collected before the test fails, so one run lists them all. It runs on SQLite, and on
PostgreSQL when the suite does (``LMS_TEST_DATABASE_URL``), where NUL characters and out-of-range values fail
differently.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.views import APIView

from lms_kernels.adapters import KernelAdapter
from lms_kernels.models import Kernel, KernelEnvironment, KernelSession
from lms_kernels.testing import shutdown_all_kernels
from lms_kernels.views import ApiView
from tests.lms_cms_blocks.cells_helpers import CsrfClient, block_ids, make_lesson
from tests.lms_surveys.conftest import valid_answers

pytestmark = pytest.mark.django_db

#: Staff-only areas (Django's admin, Wagtail's editor) and the schema's HTML page are not fuzzed here.
SKIPPED_PREFIXES = ("admin/", "cms/", "api/docs/")
#: Wagtail's own API v2 (pages, images, documents) is fuzzed apart: it still answers some input with a 500.
WAGTAIL_API = "api/v2/"

BIG = 2**64


# -- the endpoints -------------------------------------------------------------------------------------------


@dataclass
class Endpoint:
    route: str  # e.g. "surveys/api/surveys/<lms_id:pk>/"
    name: str
    view: type
    methods: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)  # path parameters, in order


def _join(prefix: str, pattern) -> str:
    return prefix + str(pattern).lstrip("^").removesuffix("$").replace("\\Z", "")


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, _join(prefix, pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield _join(prefix, pattern.pattern), pattern


PARAM = re.compile(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def _methods(view, callback) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset: the methods this route maps
        return sorted(method.upper() for method in actions if method not in ("head", "options"))
    names = getattr(view, "http_method_names", [])
    return sorted(m.upper() for m in names if m not in ("options", "head", "trace") and hasattr(view, m))


def rest_endpoints(*, wagtail: bool = False) -> list[Endpoint]:
    """Our REST endpoints, or (``wagtail=True``) only Wagtail's API v2 as the project serves it."""
    found = []
    for route, pattern in _walk(get_resolver().url_patterns):
        view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
        if view is None or not issubclass(view, APIView | ApiView) or route.startswith(SKIPPED_PREFIXES):
            continue
        if route.startswith(WAGTAIL_API) != wagtail:
            continue
        params = [m.group(2) or m.group(3) for m in PARAM.finditer(route)]
        found.append(Endpoint(route, pattern.name, view, _methods(view, pattern.callback), params))
    return found


def fill(route: str, values: dict[str, str]) -> str:
    def one(match):
        return values[match.group(2) or match.group(3)]

    return "/" + PARAM.sub(one, route)


# -- a learner with one real object of each kind -------------------------------------------------------------


class NoKernelStarts(KernelAdapter):
    """No environment may start a kernel: a fuzzed body that passes every check stops at the adapter (a 4xx)
    instead of starting real kernels by the hundred."""

    def can_use_environment(self, user, environment) -> bool:
        return False


@pytest.fixture
def world(django_user_model, settings, caplog, tmp_path):
    from lms_core.testing.factories import make_cohort, make_course, make_enrollment
    from lms_surveys import services as survey_services
    from lms_surveys.testing.factories import attach, make_survey

    caplog.set_level(logging.CRITICAL, logger="django.request")  # hundreds of expected 4xx
    settings.LMS_KERNELS = {
        **getattr(settings, "LMS_KERNELS", {}),
        "ADAPTER": f"{__name__}.NoKernelStarts",
        # Restarting the learner's kernel (its row has no process) starts a real one: in this test's folder,
        # shut down when the test ends.
        "BACKENDS": {
            "local": {
                "BACKEND": "lms_kernels.backends.local.LocalBackend",
                "OPTIONS": {"runtime_dir": str(tmp_path / "kernels")},
            }
        },
    }
    learner = django_user_model.objects.create_user("fuzz-learner", password="pw-fuzz-1234")
    course = make_course("Fuzz course", contents=2)
    cohort = make_cohort(course)
    enrollment = make_enrollment(learner, cohort)
    content = course.contents.order_by("position").first()
    lesson = make_lesson(title="Fuzz lesson", slug="fuzz-lesson")
    block = block_ids(lesson)[0]
    survey = make_survey("After the fuzz content", editable_answers=True)
    target = attach(survey, content)
    response = survey_services.submit_response(target, learner, valid_answers(survey))
    environment, _created = KernelEnvironment.objects.get_or_create(
        slug="python3", defaults={"display_name": "Python 3", "language": "python"}
    )
    kernel = Kernel.objects.create(
        owner=learner, environment=environment, name="python3", status="running", backend="local"
    )
    session = KernelSession.objects.create(
        owner=learner, kernel=kernel, path="fuzz/lesson", name="lesson", type="notebook"
    )
    client = CsrfClient(raise_request_exception=False)
    client.force_login(learner)
    ids = {
        "enrollment_pk": str(enrollment.pk),
        "cohort_pk": str(cohort.pk),
        "page_id": str(lesson.pk),
        "block_id": block,
        "kernel_id": str(kernel.pk),
        "session_id": str(session.pk),
        "name": "python3",
        "key": str(content.pk),
    }
    # "pk" means a different object per endpoint.
    pks = {
        "api-survey": survey.pk,
        "api-survey-responses": survey.pk,
        "api-survey-report": survey.pk,
        "api-my-response": response.pk,
        "api-my-enrollment-detail": enrollment.pk,
        "api-my-enrollment-progress": enrollment.pk,
        "api-my-enrollment-shift": enrollment.pk,
        "api-cohort-detail": cohort.pk,
        "api-cohort-stats": cohort.pk,
        "api-cohort-learner-detail": enrollment.pk,
        "detail": lesson.pk,
    }
    answers = valid_answers(survey, comment="Better.")
    bodies = {
        # A valid body per (url name, method); the fuzz changes one field at a time.
        "kernel-list": {"name": "python3"},
        "session-list": {
            "path": "fuzz/other",
            "type": "notebook",
            "name": "x",
            "kernel": {"name": "python3"},
        },
        "session-detail": {"path": "fuzz/renamed", "name": "y", "type": "notebook"},
        "cells-detail": {
            "source": "print(1)",
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}],
            "execution_count": 1,
        },
        "cells-check": {"passed": True},
        "api-survey-responses": {"answers": answers},
        "api-my-response": {"answers": answers},
        "api-my-enrollment-progress": {"content": content.pk, "percent": 50, "completed": False},
        "api-my-enrollment-shift": {"days": 1},
        "api-cohort-learner-list": {"user": learner.pk},
        "api-cohort-exception-list": {
            "user": learner.pk,
            "content": content.pk,
            "due_at": timezone.now().isoformat(),
            "reason": "fuzz",
        },
    }
    yield World(client, ids, pks, bodies)
    async_to_sync(shutdown_all_kernels)()


@dataclass
class World:
    client: Client
    ids: dict
    pks: dict
    bodies: dict
    problems: list[str] = field(default_factory=list)

    def path_values(self, endpoint: Endpoint) -> dict[str, str]:
        values = dict(self.ids)
        if "pk" in endpoint.params:
            values["pk"] = str(self.pks.get(endpoint.name, 1))
        return values

    def send(self, method: str, url: str, what: str, *, body=None, query: str = ""):
        kwargs = {}
        if body is not None:
            kwargs = {"data": body, "content_type": "application/json"}
        full = url + (("&" if "?" in url else "?") + query if query else "")
        response = (
            self.client.generic(method, full, **kwargs) if body is not None else self._call(method, full)
        )
        self.judge(response, method, url, what)
        return response

    def _call(self, method, url):
        return self.client.generic(method, url)

    def judge(self, response, method: str, url: str, what: str) -> None:
        status = response.status_code
        where = f"{method} {url[:120]} with {what}"
        if status >= 500:
            self.problems.append(f"{where}: {status} {_excerpt(response)}")
        elif status >= 400 and not _has_message(response):
            self.problems.append(f"{where}: {status} without a message: {_excerpt(response)}")


def _excerpt(response) -> str:
    content = getattr(response, "content", b"") or b""
    return content[:200].decode("utf-8", "replace").replace("\n", " ")


def _has_message(response) -> bool:
    if response.status_code in (405,):  # the Allow header is the message; bodies vary
        return bool(response.headers.get("Allow")) or bool(response.content)
    content = response.content.decode("utf-8", "replace").strip()
    if not content:
        return False
    if "json" in response.headers.get("Content-Type", ""):
        data = json.loads(content)
        text = json.dumps(data, ensure_ascii=False)
        return any(ch.isalpha() for ch in text)
    return bool(re.search(r"[A-Za-z]{3,}", re.sub(r"<[^>]+>", " ", content)))


# -- hostile values --------------------------------------------------------------------------------------------

#: JSON fragments, written raw so that a lone surrogate is a JSON escape and 1e309 a literal.
HOSTILE_JSON = {
    "null": "null",
    "true": "true",
    "a list": "[]",
    "an object": "{}",
    "-1": "-1",
    "2**64": str(BIG),
    "-(2**64)": str(-BIG),
    "1e309": "1e309",
    "NaN": "NaN",
    "a lone surrogate": '"\\udfff"',
    "a NUL": '"a\\u0000b"',
    "an empty string": '""',
    "a long string": json.dumps("x" * 100_000),
    "year 1 at +14:00": '"0001-01-01T00:00:00+14:00"',
    "year 9999 at -12:00": '"9999-12-31T23:59:59-12:00"',
    "a garbage date": '"9999-99-99T99:99"',
    "a deep value": "[" * 200 + "]" * 200,
    "a huge number": "1" + "0" * 5000,
}

#: Whole bodies.
HOSTILE_BODIES = {
    "an empty body": "",
    "malformed JSON": '{"a": ',
    "a JSON array": "[1, 2]",
    "a JSON string": '"text"',
    "null": "null",
    "invalid UTF-8": b"\xff\xfe{",
    "[ x 50,000": "[" * 50_000,
    '{"a": x 20,000': '{"a":' * 20_000,
    "a 3 MB body": json.dumps({"x": "y" * 3_000_000}),
}

#: Query values, already URL-encoded.
HOSTILE_QUERY = {
    "-1": "-1",
    "2**64": str(BIG),
    "1e309": "1e309",
    "NaN": "NaN",
    "a NUL": "%00",
    "a lone surrogate (UTF-8 of U+DFFF)": "%ED%BF%BF",
    "year 1 at +14:00": quote("0001-01-01T00:00:00+14:00"),
    "year 9999 at -12:00": quote("9999-12-31T23:59:59-12:00"),
    "garbage": "%3Cgarbage%3E",
    "a long value": "x" * 4000,
}

#: Path values, URL-encoded, for parameters that take an id (``int``/``lms_id``) or text.
HOSTILE_PATH = {
    "an id past 64 bits": "99999999999999999999",
    "2**63": str(2**63),
    "zero": "0",
    "text": "abc",
    "a NUL": "%00",
    "a lone surrogate (UTF-8 of U+DFFF)": "%ED%BF%BF",
    "a long value": "9" * 300,
}

#: Query parameters a view reads by hand (the rest come from its filters and its pagination).
EXTRA_QUERY = {
    "gpu-usage": ["user", "group", "since", "until", "limit", "offset"],
    "api-cohort-stats": ["days"],
    "api-survey-report": ["cohort"],
    "api-course-report": ["cohort"],
    "preview": ["content_type", "token"],
    "find": ["html_path", "id"],
}


def query_parameters(endpoint: Endpoint) -> list[str]:
    names = {"format"}
    filterset = getattr(endpoint.view, "filterset_class", None)
    if filterset is not None:
        names |= set(filterset.base_filters)
    pagination = getattr(endpoint.view, "pagination_class", None)
    for attribute in ("limit_query_param", "offset_query_param", "page_query_param", "page_size_query_param"):
        if pagination is not None and getattr(pagination, attribute, None):
            names.add(getattr(pagination, attribute))
    names |= set(getattr(endpoint.view, "known_query_parameters", ())) - {"format"}
    names |= set(EXTRA_QUERY.get(endpoint.name, ()))
    return sorted(names)


def with_field(body: dict, name: str, fragment: str) -> str:
    """``body`` as JSON with ``name`` set to the raw JSON ``fragment``."""
    marker = f"__fuzz_{uuid.uuid4().hex}__"
    return json.dumps({**body, name: marker}).replace(f'"{marker}"', fragment)


# -- the tests -------------------------------------------------------------------------------------------------


def report(problems: list[str]) -> str:
    return f"{len(problems)} responses a learner should not get:\n" + "\n".join(problems[:60])


def test_the_fuzz_finds_the_endpoints():
    names = {endpoint.name for endpoint in rest_endpoints()}
    # One of each app, so that an urlconf change cannot silently empty the fuzz.
    assert {
        "cells-detail",
        "session-list",
        "gpu-usage",
        "api-survey-responses",
        "api-my-enrollment-shift",
    } <= names


def fuzz_path_parameters(world, endpoints):
    for endpoint in endpoints:
        if not endpoint.params:
            continue
        for param in endpoint.params:
            for what, value in HOSTILE_PATH.items():
                url = fill(endpoint.route, {**world.path_values(endpoint), param: value})
                for method in endpoint.methods:
                    if method == "DELETE" and param not in ("kernel_id", "session_id", "block_id"):
                        continue
                    body = json.dumps(world.bodies.get(endpoint.name, {})) if method != "GET" else None
                    world.send(method, url, f"{what} as {param}", body=body)


def fuzz_query_parameters(world, endpoints):
    for endpoint in endpoints:
        if "GET" not in endpoint.methods:
            continue
        url = fill(endpoint.route, world.path_values(endpoint))
        for name in query_parameters(endpoint):
            for what, value in HOSTILE_QUERY.items():
                world.send("GET", url, f"{what} in ?{name}", query=f"{name}={value}")


def fuzz_bodies(world, endpoints):
    for endpoint in endpoints:
        for method in endpoint.methods:
            if method in ("GET", "DELETE"):
                continue
            url = fill(endpoint.route, world.path_values(endpoint))
            for what, body in HOSTILE_BODIES.items():
                world.send(method, url, what, body=body)
            valid = world.bodies.get(endpoint.name, {})
            for name in [*valid, "unexpected"]:
                for what, fragment in HOSTILE_JSON.items():
                    world.send(method, url, f"{what} in {name!r}", body=with_field(valid, name, fragment))
            for key in valid:
                if isinstance(valid[key], dict):  # one level down: answers, the kernel reference
                    for what, fragment in HOSTILE_JSON.items():
                        inner = with_field(valid[key], "1" if key == "answers" else "name", fragment)
                        world.send(method, url, f"{what} in {key!r}", body=with_field(valid, key, inner))


def test_path_parameters(world):
    fuzz_path_parameters(world, rest_endpoints())
    assert not world.problems, report(world.problems)


def test_query_parameters(world):
    fuzz_query_parameters(world, rest_endpoints())
    assert not world.problems, report(world.problems)


def test_bodies(world):
    fuzz_bodies(world, rest_endpoints())
    assert not world.problems, report(world.problems)


@pytest.mark.slow
def test_wagtail_api_v2(world):
    endpoints = rest_endpoints(wagtail=True)
    assert endpoints
    fuzz_path_parameters(world, endpoints)
    fuzz_query_parameters(world, endpoints)
    assert not world.problems, report(world.problems)
