"""``scripts/services.py`` brings PostgreSQL up wherever the checkout is, and ``down`` removes what it made."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def services(checkout: Path, *args: str, port: int) -> dict:
    completed = subprocess.run(
        [sys.executable, str(checkout / "scripts" / "services.py"), *args],
        cwd=checkout,
        env={**os.environ, "LMS_SERVICES_PG_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(completed.stdout.splitlines()[-1]) | {"log": completed.stderr}


@pytest.mark.skipif(
    not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")), reason="no PostgreSQL binaries"
)
def test_postgres_comes_up_in_a_checkout_the_postgres_user_cannot_reach():
    # mktemp -d makes a 0700 directory: as root, the postgres user cannot traverse it.
    parent = Path(tempfile.mkdtemp(prefix="groundup-clone-"))
    assert parent.stat().st_mode & 0o777 == 0o700
    checkout = parent / "clone"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "services.py", checkout / "scripts" / "services.py")
    port = free_port()
    try:
        up = services(checkout, "up", "--only", "pg", port=port)
        assert "postgres" not in up["missing"], up["log"]
        assert up["LMS_TEST_DATABASE_URL"] == f"postgres://postgres@127.0.0.1:{port}/postgres"
        home = Path(json.loads((checkout / ".services" / "pg.json").read_text())["home"])
        assert home.is_dir()
        assert home.stat().st_mode & 0o777 == 0o700
        assert not str(home).startswith(str(parent))

        down = services(checkout, "down", port=port)
        assert "postgres" in down["missing"]
        assert not home.exists()
        assert not (checkout / ".services" / "pg.json").exists()
    finally:
        subprocess.run(
            [sys.executable, str(checkout / "scripts" / "services.py"), "down"],
            env={**os.environ, "LMS_SERVICES_PG_PORT": str(port)},
            capture_output=True,
            check=False,
        )
        shutil.rmtree(parent, ignore_errors=True)
