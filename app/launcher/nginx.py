"""nginx in front of the nodes, rendered from the repository's nginx/nginx.conf template."""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from app.launcher.processes import (
    LaunchError,
    find_binary,
    free_port,
    stop_process,
    wait_for_http,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "nginx" / "nginx.conf"
MIME_TYPES = Path("/etc/nginx/mime.types")


def render(
    *,
    listen: int | str,
    upstreams: list[str],
    run_dir: Path | str,
    log_dir: Path | str,
    static_root: Path | str = ROOT / "static",
    node_modules: Path | str = ROOT / "node_modules",
    mime_types: Path | str = MIME_TYPES,
    workers: int | str = "auto",
    user: str | None = None,
    proxy_bind: str | None = None,
) -> str:
    """The nginx configuration for these upstream `host:port`s and folders (workers as `user`;
    connecting to the nodes from the local address `proxy_bind`, if given)."""
    servers = "\n".join(
        f"        server {address} max_fails=1 fail_timeout=5s;" for address in upstreams
    )
    values = {
        "NGINX_LISTEN": str(listen),
        "NGINX_UPSTREAM_SERVERS": servers,
        "NGINX_RUN_DIR": str(run_dir),
        "NGINX_LOG_DIR": str(log_dir),
        "NGINX_STATIC_ROOT": str(static_root),
        "NGINX_NODE_MODULES": str(node_modules),
        "NGINX_MIME_TYPES": str(mime_types),
        "NGINX_WORKERS": str(workers),
        "NGINX_PROXY_BIND": f"        proxy_bind {proxy_bind};" if proxy_bind else "",
    }
    # safe_substitute leaves nginx's own $variables alone.
    config = Template(TEMPLATE.read_text()).safe_substitute(values)
    # Not in the template: the container image keeps nginx's own choice of worker user.
    return f"user {user};\n{config}" if user else config


def worker_user() -> str | None:
    """The `user` directive's value that keeps nginx's workers as the user who launches it.

    A root master hands its workers to `nobody` unless told otherwise, and `nobody` cannot
    read a checkout in a folder only its owner may open, so every static file would be a 403.
    Without root there is nothing to change (nginx ignores the directive, with a warning).
    """
    if os.geteuid() != 0:
        return None
    return f"{pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name}"


@dataclass
class Nginx:
    """An unprivileged nginx with its configuration, pid, temp files and logs in `folder`."""

    folder: Path
    upstreams: list[str]
    port: int = field(default_factory=free_port)
    log_dir: Path | None = None
    static_root: Path = ROOT / "static"
    proxy_bind: str | None = None
    process: subprocess.Popen[bytes] | None = None
    # The address it listens on, and what the command is run through (`ip netns exec NAME`).
    host: str = "127.0.0.1"
    prefix: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.folder / "nginx.conf"

    def _args(self, *extra: str) -> list[str]:
        logs = self.log_dir or self.folder
        return [
            *self.prefix,
            find_binary("nginx"),
            "-p",
            str(self.folder),
            "-e",
            str(logs / "nginx-error.log"),
            "-c",
            str(self.config_path),
            *extra,
        ]

    def write_config(self) -> Path:
        """Render the configuration into the folder."""
        run_dir = self.folder / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        logs = self.log_dir or self.folder
        logs.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            render(
                listen=f"{self.host}:{self.port}",
                upstreams=self.upstreams,
                run_dir=run_dir,
                log_dir=logs,
                static_root=self.static_root,
                workers=2,
                user=worker_user(),
                proxy_bind=self.proxy_bind,
            )
        )
        return self.config_path

    def test_config(self) -> str:
        """Run `nginx -t` on the rendered configuration; returns its output or raises."""
        self.write_config()
        result = subprocess.run(self._args("-t"), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise LaunchError(f"nginx -t rejected the configuration:\n{result.stderr}")
        return result.stderr

    def start(self, *, timeout: float = 15, wait_for_nodes: bool = True) -> Nginx:
        """Start nginx; wait until a node answers /readyz through it, or only until it listens."""
        self.test_config()
        self.process = subprocess.Popen(
            self._args("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        if wait_for_nodes:
            wait_for_http(f"{self.url}/readyz", process=self.process, timeout=timeout, what="nginx")
        else:
            wait_for_port(
                self.port, process=self.process, timeout=timeout, what="nginx", host=self.host
            )
        return self

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None
