"""Both storage backends end to end over HTTP, through real `delivery serve` nodes."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
from PIL import Image

from app.config import Settings
from app.launcher.nodes import Node
from tests.catalog.conftest import MotoServer, create_store, image_bytes, upload
from tests.client import Api, assert_problem
from tests.harness import Infra


@asynccontextmanager
async def _nodes(infra: Infra, count: int, **env: str) -> AsyncIterator[list[Api]]:
    started: list[Node] = []
    try:
        for n in range(count):
            started.append(infra.start_node(f"catalog-{uuid.uuid4().hex[:6]}-{n}", **env))
        async with AsyncExitStack() as stack:
            clients = []
            for node in started:
                http = httpx.AsyncClient(base_url=node.url, timeout=30)
                await stack.enter_async_context(http)
                clients.append(Api(http))
            yield clients
    finally:
        for node in started:
            node.stop()
            infra.nodes.remove(node)


async def _upload_replace_and_read_everywhere(
    a: Api, b: Api, exists: Callable[[str], bool]
) -> None:
    await a.sign_in_as("owner")
    store = await create_store(a)
    path = f"/api/stores/{store['id']}/image"
    first = await upload(a, path, image_bytes("PNG", size=(120, 90)))
    assert first.status_code == 200, first.text
    first_url = first.json()["image_url"]
    assert exists(first_url.removeprefix("/media/"))
    for node in (a, b):
        served = await node.get(first_url)
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(served.content)).size == (120, 90)
    assert (await b.get(f"/api/stores/{store['id']}")).json()["image_url"] == first_url

    second = await upload(a, path, image_bytes("JPEG", size=(80, 60)), "new.jpg")
    assert second.status_code == 200, second.text
    second_url = second.json()["image_url"]
    assert not exists(first_url.removeprefix("/media/"))
    assert exists(second_url.removeprefix("/media/"))
    assert (await b.get(second_url)).headers["content-type"] == "image/jpeg"
    assert_problem(await b.get(first_url), 404, "not-found")
    assert (await b.get(f"/api/stores/{store['id']}")).json()["image_url"] == second_url


async def test_local_disk_backend_over_http_on_two_nodes(settings: Settings, infra: Infra) -> None:
    root = Path(settings.effective_storage_url.removeprefix("file://"))
    async with _nodes(infra, 2) as (a, b):
        await _upload_replace_and_read_everywhere(a, b, lambda key: (root / key).is_file())


async def test_s3_backend_over_http_on_two_nodes(
    settings: Settings, infra: Infra, moto_server: MotoServer
) -> None:
    bucket = f"catalog-{uuid.uuid4().hex[:8]}"
    s3 = moto_server.client()

    def exists(key: str) -> bool:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"media/{key}")
        return any(obj["Key"] == f"media/{key}" for obj in listed.get("Contents", []))

    env = {
        "STORAGE_URL": f"s3://{bucket}/media",
        "S3_ENDPOINT_URL": moto_server.url,
        "S3_ACCESS_KEY_ID": "test-key",
        "S3_SECRET_ACCESS_KEY": "test-secret",
    }
    async with _nodes(infra, 2, **env) as (a, b):
        # The node created the bucket when it started.
        s3.head_bucket(Bucket=bucket)
        await _upload_replace_and_read_everywhere(a, b, exists)
        listed = s3.list_objects_v2(Bucket=bucket)
        assert len(listed["Contents"]) == 1
        assert listed["Contents"][0]["Key"].startswith("media/stores/")
