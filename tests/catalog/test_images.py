"""Image uploads: checked by content, size-limited, stripped of metadata, replaced cleanly."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

from PIL import Image

from app.config import Settings
from tests.catalog.conftest import add_item, create_store, image_bytes, upload
from tests.client import Api, assert_problem
from tests.harness import Infra


def _media_root(settings: Settings) -> Path:
    return Path(settings.effective_storage_url.removeprefix("file://"))


async def test_a_png_named_file_whose_bytes_are_text_is_unsupported(
    owner: Api, infra: Infra
) -> None:
    store = await create_store(owner)
    response = await upload(owner, f"/api/stores/{store['id']}/image", b"just some text\n" * 50)
    assert_problem(response, 415, "unsupported-media-type")
    assert infra.query("SELECT image_key FROM stores") == [(None,)]


async def test_a_gif_is_unsupported_even_though_pillow_reads_it(owner: Api) -> None:
    store = await create_store(owner)
    response = await upload(owner, f"/api/stores/{store['id']}/image", image_bytes("GIF"))
    assert_problem(response, 415, "unsupported-media-type")


async def test_a_truncated_jpeg_is_unsupported(owner: Api) -> None:
    store = await create_store(owner)
    data = image_bytes("JPEG", size=(400, 300))
    response = await upload(owner, f"/api/stores/{store['id']}/image", data[: len(data) // 2])
    assert_problem(response, 415, "unsupported-media-type")


async def test_a_six_mib_upload_is_too_large(owner: Api, infra: Infra) -> None:
    store = await create_store(owner)
    data = image_bytes("PNG") + os.urandom(6 * 1024 * 1024)
    response = await upload(owner, f"/api/stores/{store['id']}/image", data)
    assert_problem(response, 413, "too-large")
    assert infra.query("SELECT image_key FROM stores") == [(None,)]


async def test_an_image_just_over_five_mib_is_too_large(owner: Api) -> None:
    store = await create_store(owner)
    # Random pixels do not compress: a genuine PNG a little over the limit.
    noise = Image.frombytes("RGB", (1400, 1300), os.urandom(1400 * 1300 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert 5 * 1024 * 1024 < len(out.getvalue()) < 6 * 1024 * 1024
    response = await upload(owner, f"/api/stores/{store['id']}/image", out.getvalue())
    assert_problem(response, 413, "too-large")


async def test_an_upload_without_the_file_field_is_a_validation_problem(owner: Api) -> None:
    store = await create_store(owner)
    response = await owner.put(
        f"/api/stores/{store['id']}/image", files={"photo": ("a.png", image_bytes(), "image/png")}
    )
    body = assert_problem(response, 400, "validation")
    assert body["errors"] == [
        {"field": "file", "message": "Choose an image file.", "type": "missing"}
    ]


async def test_uploaded_jpeg_loses_its_metadata_and_is_served_with_long_cache_headers(
    owner: Api, api: Api
) -> None:
    store = await create_store(owner)
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N", 2: (37.0, 33.0, 59.0)}  # GPS
    data = image_bytes("JPEG", size=(320, 240), exif=exif.tobytes())
    assert b"SecretCam" in data
    response = await upload(owner, f"/api/stores/{store['id']}/image", data, "me.jpg")
    assert response.status_code == 200, response.text
    url = response.json()["image_url"]
    assert url.startswith("/media/stores/") and url.endswith(".jpg")
    served = await api.get(url)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert "immutable" in served.headers["cache-control"]
    assert b"SecretCam" not in served.content
    clean = Image.open(io.BytesIO(served.content))
    assert clean.size == (320, 240)
    assert not clean.getexif()
    assert (await api.get(f"/api/stores/{store['id']}")).json()["image_url"] == url


async def test_replacing_an_image_deletes_the_old_object(
    owner: Api, api: Api, settings: Settings
) -> None:
    store = await create_store(owner)
    item = await add_item(owner, store["id"])
    path = f"/api/menu-items/{item['id']}/image"
    first = (await upload(owner, path, image_bytes("PNG"))).json()["image_url"]
    second_response = await upload(owner, path, image_bytes("WEBP"), "x.webp")
    assert second_response.status_code == 200, second_response.text
    second = second_response.json()["image_url"]
    assert first != second and second.endswith(".webp")
    assert (await api.get(second)).headers["content-type"] == "image/webp"
    assert_problem(await api.get(first), 404, "not-found")
    root = _media_root(settings)
    assert not (root / first.removeprefix("/media/")).exists()
    assert (root / second.removeprefix("/media/")).exists()
    menu = (await api.get(f"/api/stores/{store['id']}")).json()["menu"]
    assert menu[0]["items"][0]["image_url"] == second


async def test_media_paths_outside_the_key_format_are_not_found(api: Api) -> None:
    for path in ("/media/../../etc/passwd", "/media/stores/1/x.jpg", "/media/%2e%2e/secret"):
        assert_problem(await api.get(path), 404, "not-found")


async def test_concurrent_replacements_leave_exactly_the_current_image(
    owner: Api, api: Api, settings: Settings
) -> None:
    store = await create_store(owner)
    path = f"/api/stores/{store['id']}/image"
    responses = await asyncio.gather(
        *(upload(owner, path, image_bytes("PNG", size=(40 + n, 30))) for n in range(8))
    )
    assert {r.status_code for r in responses} == {200}
    current = (await api.get(f"/api/stores/{store['id']}")).json()["image_url"]
    folder = _media_root(settings) / "stores" / str(store["id"])
    assert [p.name for p in folder.iterdir() if not p.name.startswith(".")] == [
        current.rsplit("/", 1)[-1]
    ]
