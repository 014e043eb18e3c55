"""Catalog fixtures: an owner with a store, images drawn in memory, a moto S3 server process."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.launcher.processes import free_port, stop_process, wait_for_http
from tests.client import Api

CITY_HALL = (37.5665, 126.9780)


def store_body(**overrides: Any) -> dict[str, Any]:
    """A valid POST /api/stores body."""
    body: dict[str, Any] = {
        "name": "Seoul Kimbap",
        "category": "korean",
        "address": "110 Sejong-daero, Jung-gu, Seoul",
        "lat": CITY_HALL[0],
        "lng": CITY_HALL[1],
        "phone": "02-123-4567",
        "min_order": 12000,
        "delivery_fee": 3000,
    }
    body.update(overrides)
    return body


def item_body(**overrides: Any) -> dict[str, Any]:
    """A valid POST /api/stores/{id}/menu body."""
    body: dict[str, Any] = {
        "name": "Bibimbap",
        "price": 9000,
        "group": "Rice",
        "description": "Rice, vegetables, egg and gochujang.",
        "options": [{"name": "Extra egg", "price": 1000}, {"name": "Large", "price": 2000}],
    }
    body.update(overrides)
    return body


async def create_store(owner: Api, **overrides: Any) -> dict[str, Any]:
    """Create a store as `owner` and return it."""
    response = await owner.post("/api/stores", json=store_body(**overrides))
    assert response.status_code == 201, response.text
    store: dict[str, Any] = response.json()
    return store


async def add_item(owner: Api, store_id: int, **overrides: Any) -> dict[str, Any]:
    """Add a menu item as `owner` and return it."""
    response = await owner.post(f"/api/stores/{store_id}/menu", json=item_body(**overrides))
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48), **save: Any) -> bytes:
    """A small image drawn in memory."""
    image = Image.new("RGB", size, (200, 80, 40))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def flat_png(width: int, height: int) -> bytes:
    """A one-colour RGB PNG, compressed row by row (the test never holds the canvas)."""
    packer = zlib.compressobj(9)
    row = b"\x00" + bytes((200, 80, 40)) * width
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


async def upload(api: Api, path: str, data: bytes, filename: str = "photo.png") -> Any:
    """PUT a multipart upload with field `file`."""
    return await api.put(path, files={"file": (filename, data, "application/octet-stream")})


@pytest.fixture
async def owner(api: Api) -> Api:
    """A signed-in owner on the one app."""
    await api.sign_in_as("owner")
    return api


@dataclass
class MotoServer:
    """moto's standalone S3-compatible server, a real process on a free port."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test-key",
            aws_secret_access_key="test-secret",
        )


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """Start `moto_server` once for the run."""
    binary = Path(sys.executable).parent / "moto_server"
    if not binary.exists():
        pytest.fail("moto_server is not installed (pip install 'moto[server]')", pytrace=False)
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_http(
            f"http://127.0.0.1:{port}/moto-api/", process=process, timeout=30, what="moto_server"
        )
        yield MotoServer(port=port, process=process)
    finally:
        stop_process(process)
        log.close()
