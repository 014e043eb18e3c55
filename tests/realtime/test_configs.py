"""The deployment files: the nginx configuration the launcher renders, and the compose file."""

from __future__ import annotations

import subprocess
from pathlib import Path

from app.launcher.nginx import Nginx, render
from tests.harness import require_binary

ROOT = Path(__file__).resolve().parents[2]


def test_nginx_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    require_binary("nginx")
    nginx = Nginx(folder=tmp_path, upstreams=["127.0.0.1:18001", "127.0.0.1:18002"])
    output = nginx.test_config()
    assert "syntax is ok" in output and "test is successful" in output
    config = nginx.config_path.read_text()
    assert "${" not in config, "a placeholder was left unrendered"
    assert "hash $cookie_delivery_session consistent;" in config
    assert "client_max_body_size 6m;" in config
    assert config.count("server 127.0.0.1:18002 max_fails=1 fail_timeout=5s;") == 2


def test_nginx_timeouts_stay_above_the_socketio_heartbeat() -> None:
    from realtime.server import PING_INTERVAL, PING_TIMEOUT

    config = render(listen=80, upstreams=["app:8000"], run_dir="/tmp", log_dir="/tmp")
    assert "proxy_read_timeout 75s;" in config
    assert PING_INTERVAL + PING_TIMEOUT < 75


def test_docker_compose_accepts_the_compose_file() -> None:
    binary = require_binary("docker-compose")
    result = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    services = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split()
    for service in ("mariadb", "redis-session", "redis-cache", "minio", "app", "nginx"):
        assert service in services
