"""`delivery serve` and `delivery cluster` refuse to start with a weak DELIVERY_ADMIN_PASSWORD,
saying which variable is wrong, before anything is created or started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.config import MIN_PASSWORD
from tests.harness import Infra

WEAK = {"DELIVERY_ADMIN_EMAIL": "boss@example.com", "DELIVERY_ADMIN_PASSWORD": "admin"}


def _delivery(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_refuses_a_short_admin_password_and_creates_no_admin(
    settings: object, infra: Infra, tmp_path: Path
) -> None:
    env = {**infra.node_env(), **WEAK}
    result = _delivery(tmp_path, env, "serve", "--port", "1")
    assert result.returncode != 0
    assert "DELIVERY_ADMIN_PASSWORD" in result.stderr
    assert f"at least {MIN_PASSWORD} characters" in result.stderr
    assert "Traceback" not in result.stderr
    assert infra.query("SELECT COUNT(*) FROM users") == [(0,)]


def test_cluster_refuses_a_short_admin_password_before_starting_anything(tmp_path: Path) -> None:
    result = _delivery(tmp_path, WEAK, "cluster", "--nodes", "1")
    assert result.returncode != 0
    assert "DELIVERY_ADMIN_PASSWORD" in result.stderr and "Traceback" not in result.stderr
    assert "starting MariaDB" not in result.stdout
    assert not (tmp_path / "var").exists()
