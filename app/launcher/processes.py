"""Small process helpers: free ports, waiting for a port or URL, finding binaries."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


class LaunchError(RuntimeError):
    """A service could not be started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_binary(*names: str, extra_dirs: tuple[str, ...] = ("/usr/sbin", "/usr/local/sbin")) -> str:
    """The path of the first of `names` found on PATH or in the sbin folders."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
        for folder in extra_dirs:
            candidate = Path(folder) / name
            if candidate.exists() and os.access(candidate, os.X_OK):
                return str(candidate)
    raise LaunchError(f"none of {', '.join(names)} is installed")


def wait_for_port(
    port: int,
    *,
    process: subprocess.Popen[bytes] | None,
    timeout: float,
    what: str,
    host: str = "127.0.0.1",
) -> None:
    """Block until `host`:`port` accepts connections, or fail if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise LaunchError(f"{what} exited with code {process.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise LaunchError(f"{what} did not listen on port {port} within {timeout:.0f} s")


def wait_for_http(
    url: str, *, process: subprocess.Popen[bytes] | None, timeout: float, what: str
) -> None:
    """Block until `url` answers 200, or fail if the process died."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise LaunchError(f"{what} exited with code {process.returncode}; see its log")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}"
        except OSError as error:
            last = str(error)
        time.sleep(0.1)
    raise LaunchError(f"{what} was not ready at {url} within {timeout:.0f} s ({last})")


def stop_process(process: subprocess.Popen[bytes] | None, *, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it will not go."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
