"""The kernelspec chooser's default source: a Jupyter-Server-compatible ``GET /api/kernelspecs`` over HTTP."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django import forms

from lms_cms_blocks.blocks import JupyterBlock
from lms_cms_blocks.checks import settings_check
from lms_cms_blocks.kernelspecs import (
    KernelspecsUnavailable,
    available_kernelspecs,
    clear_cache,
    fetch_kernelspecs,
)

ANSWER = {
    "default": "python3",
    "kernelspecs": {
        "python3": {
            "name": "python3",
            "spec": {"display_name": "Python 3", "language": "python"},
            "resources": {},
        },
        "torch": {
            "name": "torch",
            "spec": {"display_name": "PyTorch 2 (GPU)", "language": "python"},
            "resources": {},
        },
    },
}


class Handler(BaseHTTPRequestHandler):
    requests = []

    def do_GET(self):
        Handler.requests.append((self.path, self.headers.get("Authorization")))
        if self.path == "/kernels/api/kernelspecs":
            body = json.dumps(ANSWER).encode()
            self.send_response(200)
        else:
            body = b"<html>not here</html>"
            self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def kernel_service():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Handler.requests.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_from_a_kernel_service_with_token_and_cache(settings, kernel_service):
    settings.LMS_CMS_BLOCKS = {
        "KERNEL_SERVICE_URL": kernel_service + "/kernels/",
        "KERNEL_SERVICE_TOKEN": "t0k",
    }
    assert fetch_kernelspecs() == [("python3", "Python 3"), ("torch", "PyTorch 2 (GPU)")]  # by display name
    assert Handler.requests[0] == ("/kernels/api/kernelspecs", "token t0k")
    clear_cache()
    Handler.requests.clear()
    assert dict(available_kernelspecs()) == {"python3": "Python 3", "torch": "PyTorch 2 (GPU)"}
    assert dict(available_kernelspecs()) == {"python3": "Python 3", "torch": "PyTorch 2 (GPU)"}
    assert len(Handler.requests) == 1  # the second answer came from the cache
    field = JupyterBlock().child_blocks["environment"].field
    assert isinstance(field, forms.ChoiceField)
    assert ("torch", "PyTorch 2 (GPU)") in field.choices


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "not set"),
        ("ftp://example.com", r"not an http\(s\) URL"),
        ("http://127.0.0.1:9", r"127\.0\.0\.1:9"),  # nothing listens on the discard port
    ],
)
def test_unavailable_service(settings, url, reason):
    settings.LMS_CMS_BLOCKS = {"KERNEL_SERVICE_URL": url, "KERNELSPECS_TIMEOUT": 0.5}
    with pytest.raises(KernelspecsUnavailable, match=reason):
        fetch_kernelspecs()
    clear_cache()
    assert available_kernelspecs() is None


def test_a_service_that_answers_something_else(settings, kernel_service):
    settings.LMS_CMS_BLOCKS = {"KERNEL_SERVICE_URL": kernel_service + "/elsewhere"}
    with pytest.raises(KernelspecsUnavailable):
        fetch_kernelspecs()


@pytest.mark.parametrize(
    ("value", "check_id"),
    [
        ({"KERNELSPECS": "no.such.module.function"}, "lms_cms_blocks.E003"),
        ({"KERNELSPECS_TIMEOUT": 0}, "lms_cms_blocks.E004"),
        ({"NOTEBOOK_MAX_BYTES": "big"}, "lms_cms_blocks.E004"),
        ({"KERNEL_SERVICE_URL": None}, "lms_cms_blocks.E004"),
    ],
)
def test_settings_are_checked(settings, value, check_id):
    settings.LMS_CMS_BLOCKS = value
    assert [error.id for error in settings_check()] == [check_id]


def test_an_unavailable_answer_is_cached_too(settings, kernel_service):
    settings.LMS_CMS_BLOCKS = {"KERNEL_SERVICE_URL": kernel_service + "/elsewhere"}
    clear_cache()
    field_block = JupyterBlock().child_blocks["environment"]
    for _ in range(5):  # a form reads the field many times
        assert isinstance(field_block.field, forms.CharField)
    assert len(Handler.requests) == 1


def broken_kernelspecs():
    raise RuntimeError("the project's callable fails")


def test_a_failing_project_callable_gives_the_free_text_field(settings, caplog):
    settings.LMS_CMS_BLOCKS = {"KERNELSPECS": "tests.lms_cms_blocks.test_kernelspecs.broken_kernelspecs"}
    clear_cache()
    assert available_kernelspecs() is None
    assert "failed; editors get a free-text field" in caplog.text
