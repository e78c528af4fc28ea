"""The OpenAPI schema (drf-spectacular) of the example project, and lms_core's API without drf-spectacular."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse

import lms_core.api.schema

ROOT = Path(__file__).resolve().parents[2]

needs_spectacular = pytest.mark.skipif(
    not apps.is_installed("drf_spectacular"),
    reason="drf-spectacular is not in this settings project's INSTALLED_APPS (lms_core alone runs without it)",
)


def project_schema_urls_exist() -> bool:
    try:
        reverse("api-schema")
    except NoReverseMatch:
        return False
    return True


@needs_spectacular
def test_schema_generates_and_validates_without_a_single_warning(tmp_path):
    """``manage.py spectacular --validate --fail-on-warn``: any warning (an endpoint it cannot type) fails."""
    import yaml

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())

    paths = schema["paths"]
    for expected in [
        "/core/api/me/enrollments/",
        "/core/api/me/enrollments/{id}/",
        "/core/api/me/enrollments/{enrollment_pk}/schedule/",
        "/core/api/me/enrollments/{id}/progress/",
        "/core/api/me/enrollments/{id}/shift/",
        "/core/api/cohorts/",
        "/core/api/cohorts/{cohort_pk}/learners/",
        "/core/api/cohorts/{cohort_pk}/learners/{id}/",
        "/core/api/cohorts/{cohort_pk}/deadline-exceptions/",
    ]:
        assert expected in paths, sorted(paths)
    excluded = ("/api/v2/", "/admin/", "/cms/")
    assert not [path for path in paths if path.startswith(excluded)]

    # The shapes clients depend on are typed, not "any".
    components = schema["components"]["schemas"]
    row = components["LearnerRow"]["properties"]
    assert row["progress_rate"]["type"] == "number"
    assert row["progress_rate"]["maximum"] == 1
    assert row["learner"]["allOf"][0]["$ref"] == "#/components/schemas/UserSummary"
    assert components["UserSummary"]["properties"]["avatar_url"]["type"] == "string"
    assert components["MyEnrollment"]["properties"]["next_due"]["nullable"] is True
    learner_list = paths["/core/api/cohorts/{cohort_pk}/learners/"]["get"]
    parameters = {parameter["name"]: parameter for parameter in learner_list["parameters"]}
    assert {"status", "delayed", "search", "progress_below", "overdue", "overdue_content", "ordering"} <= set(
        parameters
    )
    assert parameters["overdue_content"]["schema"]["type"] == "integer"
    assert parameters["delayed"]["schema"]["type"] == "boolean"
    assert "text/csv" in learner_list["responses"]["200"]["content"]
    progress = paths["/core/api/me/enrollments/{id}/progress/"]["post"]
    assert progress["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ProgressInputRequest"
    )


@needs_spectacular
@pytest.mark.django_db
def test_the_example_project_serves_the_schema_and_its_ui(client):
    if not project_schema_urls_exist():
        pytest.skip("this settings project does not route the schema views")
    response = client.get(reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/core/api/cohorts/{cohort_pk}/learners/" in response.json()["paths"]
    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_the_schema_helpers_are_no_ops_without_drf_spectacular(monkeypatch):
    """lms_core's base install has no drf-spectacular: the helpers must import and change nothing."""
    for name in ("drf_spectacular", "drf_spectacular.types", "drf_spectacular.utils"):
        monkeypatch.setitem(sys.modules, name, None)  # makes ``import`` raise ImportError
    spec = importlib.util.spec_from_file_location("schema_without_spectacular", lms_core.api.schema.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    assert module.spectacular_available is False

    def view():
        return "unchanged"

    assert module.extend_schema(request=None, responses={})(view) is view
    assert module.extend_schema_field(module.OpenApiTypes.INT)(view) is view
    module.OpenApiParameter("format", str, module.OpenApiParameter.QUERY, enum=["csv"])


def test_lms_core_alone_loads_its_api_without_drf_spectacular():
    """In a fresh interpreter where drf_spectacular cannot be imported, lms_core alone passes ``check`` (which
    imports every URLconf and so every API module) and the API answers."""
    script = """
import sys
for name in ("drf_spectacular", "drf_spectacular.types", "drf_spectacular.utils"):
    sys.modules[name] = None
import os
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.projects.core_only.settings"
os.environ.pop("LMS_TEST_DATABASE_URL", None)
import django
django.setup()
from django.core.management import call_command
call_command("check")
call_command("migrate", verbosity=0)
from django.test import Client
from lms_core.testing.factories import make_enrollment
enrollment = make_enrollment()
client = Client()
client.force_login(enrollment.user)
response = client.get("/core/api/me/enrollments/")
assert response.status_code == 200, response.content
assert response.json()["results"][0]["id"] == enrollment.pk
from lms_core.api import schema
assert schema.spectacular_available is False
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
