"""scripts/system-packages.sh: the Debian packages `make test` (and `make install`) set up."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.harness import require_binary

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "system-packages.sh"
CHROMIUM = "/usr/bin/chromium"


def stubbed_path(tmp_path: Path, path: str) -> tuple[str, Path]:
    """`path` behind an apt-get and a sudo that only record being called, and that record."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    calls = tmp_path / "calls"
    for name in ("apt-get", "sudo"):
        stub = stubs / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\nexit 1\n')
        stub.chmod(0o755)
    return f"{stubs}:{path}", calls


def run(what: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [str(SCRIPT), what], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return result, time.monotonic() - started


def without_anything(tmp_path: Path) -> dict[str, str]:
    """An environment where none of the binaries is found and installing is forbidden."""
    empty = tmp_path / "empty"
    empty.mkdir()
    path, _ = stubbed_path(tmp_path, os.environ["PATH"])
    return {
        "PATH": path,
        "INSTALL_SYSTEM_PACKAGES": "no",
        "SYSTEM_PACKAGES_PATH": str(empty),
        "SYSTEM_PACKAGES_CHROMIUM": str(empty / "chromium"),
        "VENV": str(tmp_path / "venv"),
    }


def test_when_it_cannot_install_it_stops_at_once_with_the_apt_get_command(tmp_path: Path) -> None:
    result, took = run("test", without_anything(tmp_path))
    assert result.returncode == 1
    command = (
        "sudo apt-get install -y redis-server mariadb-server nginx chromium wrk iproute2 iptables"
        " npm docker-compose python3 python3-venv"
    )
    assert command in [line.strip() for line in result.stderr.splitlines()], result.stderr
    assert not (tmp_path / "calls").exists(), "it tried to install"
    assert took < 10


def test_make_install_asks_only_for_python_and_npm(tmp_path: Path) -> None:
    result, _ = run("build", without_anything(tmp_path))
    assert result.returncode == 1
    assert "sudo apt-get install -y npm python3 python3-venv" in result.stderr, result.stderr
    assert not (tmp_path / "calls").exists(), "it tried to install"


def test_binaries_in_the_sbin_folders_count_as_installed(tmp_path: Path) -> None:
    for names in (
        "redis-server",
        "mariadbd",
        "nginx",
        CHROMIUM,
        "wrk",
        "ip",
        "tc",
        "iptables",
        "npm",
        "docker-compose",
    ):
        require_binary(names)
    # An ordinary user's PATH: mariadbd and nginx live in /usr/sbin, which it leaves out.
    user_path = ":".join(
        folder for folder in os.environ["PATH"].split(":") if not folder.endswith("sbin")
    )
    path, calls = stubbed_path(tmp_path, user_path)
    result, _ = run("test", {"PATH": path, "VENV": sys.prefix})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "system packages (test): all installed\n"
    assert not calls.exists(), "it tried to install"
