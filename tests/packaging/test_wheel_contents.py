"""The wheel step's contents check: what an institution's install needs is in the wheel, tests are not."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel_smoke():
    spec = importlib.util.spec_from_file_location(
        "wheel_smoke_under_test", ROOT / "scripts" / "wheel_smoke.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def complete_names() -> list[str]:
    """What a complete wheel holds: every package file the source tree ships, and a license."""
    names = ["groundup_lms-0.1.0-py3-none-any.dist-info/licenses/LICENSE"]
    for app in ("lms_common", "lms_core", "lms_kernels", "lms_cms_blocks", "lms_surveys"):
        package = ROOT / "src" / app
        for path in package.rglob("*"):
            name = path.relative_to(ROOT / "src").as_posix()
            if path.is_file() and "/frontend/" not in name and "__pycache__" not in name:
                names.append(name)
    return names


def make_wheel(tmp_path: Path, names: list[str]) -> Path:
    wheel = tmp_path / "groundup_lms-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in names:
            archive.writestr(name, "")
    return wheel


def test_a_complete_wheel_passes(wheel_smoke, tmp_path):
    assert wheel_smoke.check_contents(make_wheel(tmp_path, complete_names())) == []


def test_what_is_missing_or_should_not_be_there_is_named(wheel_smoke, tmp_path):
    names = [
        name
        for name in complete_names()
        if not name.endswith(("lms-jupyter.js", "ko/LC_MESSAGES/django.mo", "LICENSE"))
        and "lms_surveys/templates/" not in name
    ]
    names += ["tests/test_views.py", "lms_core/conftest.py"]
    problems = wheel_smoke.check_contents(make_wheel(tmp_path, names))
    text = "\n".join(problems)
    assert "missing lms_cms_blocks/static/lms_cms_blocks/lms-jupyter.js" in text
    for app in ("lms_core", "lms_kernels", "lms_cms_blocks", "lms_surveys"):
        assert f"missing {app}/locale/ko/LC_MESSAGES/django.mo" in text
    assert "missing lms_surveys/templates/" in text
    assert "no license file" in text
    assert "a test in the wheel: tests/test_views.py" in text
    assert "a test in the wheel: lms_core/conftest.py" in text
