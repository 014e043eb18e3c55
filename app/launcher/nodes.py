"""Hypercorn node processes running `delivery serve` with a given environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from app.launcher.processes import free_port, stop_process, wait_for_http


@dataclass
class Node:
    """One app node (`delivery serve`) on its own port, logging to a file."""

    name: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # The address it listens on, and what the command is run through (`ip netns exec NAME`).
    host: str = "127.0.0.1"
    prefix: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self, *, timeout: float = 60) -> Node:
        """Start the process and wait until its /readyz answers."""
        self.spawn()
        assert self.process is not None
        wait_for_http(f"{self.url}/readyz", process=self.process, timeout=timeout, what=self.name)
        return self

    def spawn(self) -> None:
        """Start the process without waiting for it; its output goes to the end of its log."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "DELIVERY_NODE_NAME": self.name}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                *self.prefix,
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--host",
                self.host,
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
        log.close()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def exit_status(self) -> int | None:
        """The exit status of a process that ended (negative: the signal that ended it)."""
        return None if self.process is None else self.process.poll()
