"""The unit tier: no database, Redis, network or subprocess, so that it runs in seconds anywhere.

The session fixture that starts MariaDB and Redis is replaced here by one that fails, and every
unit test runs with outgoing connections and process spawning refused: a test that needs a real
service belongs outside tests/unit.
"""

from __future__ import annotations

import socket
import subprocess
from typing import Any, NoReturn

import pytest

MOVE_IT = "a unit test may not use {what}; tests that need real services live outside tests/unit"


def _refuse(what: str) -> NoReturn:
    pytest.fail(MOVE_IT.format(what=what), pytrace=False)


@pytest.fixture(scope="session")
def infra() -> NoReturn:
    """Refused here: MariaDB and Redis (and every fixture built on them) are integration."""
    _refuse("the `infra` fixture (MariaDB and Redis)")


@pytest.fixture(autouse=True)
def no_network_or_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any unit test that connects a socket, resolves a name or starts a process."""

    def refused(what: str) -> Any:
        def call(*args: object, **kwargs: object) -> NoReturn:
            _refuse(what)

        return call

    monkeypatch.setattr(socket.socket, "connect", refused("a network connection"))
    monkeypatch.setattr(socket.socket, "connect_ex", refused("a network connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refused("a name lookup"))
    monkeypatch.setattr(subprocess.Popen, "_execute_child", refused("a subprocess"))
