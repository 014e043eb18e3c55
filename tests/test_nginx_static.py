"""The launcher's nginx serves the static files wherever the checkout is."""

from __future__ import annotations

from pathlib import Path

import httpx

from app.launcher.nginx import Nginx
from tests.harness import Infra, require_binary

STYLE = "body { color: teal; }\n"


def test_nginx_serves_static_files_from_a_folder_only_its_owner_may_read(
    infra: Infra, tmp_path: Path
) -> None:
    require_binary("nginx")
    private = tmp_path / "checkout"
    (private / "static" / "css").mkdir(parents=True)
    (private / "static" / "css" / "app.css").write_text(STYLE)
    private.chmod(0o700)
    node = infra.start_node("nginx-static")
    try:
        nginx = Nginx(
            folder=tmp_path / "nginx",
            upstreams=[f"127.0.0.1:{node.port}"],
            static_root=private / "static",
        ).start()
        try:
            response = httpx.get(f"{nginx.url}/static/css/app.css", timeout=10)
        finally:
            nginx.stop()
    finally:
        node.stop()
    assert response.status_code == 200, (nginx.folder / "error.log").read_text()
    assert response.text == STYLE
