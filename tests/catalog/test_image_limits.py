"""What an upload must pass before its pixels are decoded: the caller runs the store, the
owner is under the upload rate, a decode slot is free; and the header's pixel count."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from app.catalog.images import MAX_PIXELS
from tests.catalog.conftest import add_item, create_store, flat_png, image_bytes, upload
from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.harness import Infra

NOT_AN_IMAGE = b"just some text\n" * 50


async def two_owners(apps: AppPool, **settings: object) -> tuple[Api, Api]:
    """Two signed-in owners on one app started with these settings."""
    app = await apps.start(apps.settings.model_copy(update=settings))
    first, second = await apps.client(app), await apps.client(app)
    await first.sign_in_as("owner")
    await second.sign_in_as("owner")
    return first, second


async def test_another_owners_upload_is_refused_before_its_content_is_looked_at(
    apps: AppPool, infra: Infra
) -> None:
    owner, other = await two_owners(apps)
    store = await create_store(owner)
    item = await add_item(owner, store["id"])
    # Not even an image: the answer is about who asks, not about what was sent.
    for path in (f"/api/stores/{store['id']}/image", f"/api/menu-items/{item['id']}/image"):
        assert_problem(await upload(other, path, NOT_AN_IMAGE), 403, "forbidden")
    for path in ("/api/stores/999999/image", "/api/menu-items/999999/image"):
        assert_problem(await upload(other, path, NOT_AN_IMAGE), 404, "not-found")
    assert infra.query("SELECT image_key FROM stores") == [(None,)]


async def test_an_image_over_the_pixel_limit_is_too_large_and_one_at_it_is_accepted(
    apps: AppPool,
) -> None:
    owner, _ = await two_owners(apps)
    store = await create_store(owner)
    path = f"/api/stores/{store['id']}/image"
    over = flat_png(4096, 4097)
    problem = assert_problem(await upload(owner, path, over), 413, "too-large")
    assert "4096×4097" in problem["detail"] and f"{MAX_PIXELS:,}" in problem["detail"]
    at = await upload(owner, path, flat_png(4096, 4096))
    assert at.status_code == 200, at.text


async def test_a_large_jpeg_is_decoded_at_a_reduced_scale_and_accepted(apps: AppPool) -> None:
    owner, _ = await two_owners(apps)
    store = await create_store(owner)
    # 8000×6000 is 48 megapixels: a phone's full-resolution photo.
    photo = image_bytes("JPEG", size=(8000, 6000), quality=50)
    response = await upload(owner, f"/api/stores/{store['id']}/image", photo)
    assert response.status_code == 200, response.text
    served = await owner.get(response.json()["image_url"])
    assert Image.open(io.BytesIO(served.content)).size == (1600, 1200)


async def test_uploads_over_the_owners_rate_are_429_with_retry_after(apps: AppPool) -> None:
    owner, other = await two_owners(apps, image_uploads_per_owner=3)
    store = await create_store(owner)
    path = f"/api/stores/{store['id']}/image"
    for _ in range(3):
        assert (await upload(owner, path, image_bytes())).status_code == 200
    refused = await upload(owner, path, image_bytes())
    assert_problem(refused, 429, "rate-limited")
    assert int(refused.headers["Retry-After"]) >= 1
    # The limit is the owner's own: another owner uploads to their store.
    theirs = await create_store(other)
    assert (await upload(other, f"/api/stores/{theirs['id']}/image", image_bytes())).is_success


async def test_uploads_beyond_the_nodes_decode_slots_are_503_with_retry_after(
    apps: AppPool,
) -> None:
    owner, _ = await two_owners(apps, image_decode_slots=1, image_decode_wait_seconds=0)
    store = await create_store(owner)
    path = f"/api/stores/{store['id']}/image"
    # The most pixels accepted, in a gradient: each decode and re-encode takes most of a second,
    # and the uploads all arrive within it.
    gradient = Image.linear_gradient("L").resize((4096, 4096)).convert("RGB")
    out = io.BytesIO()
    gradient.save(out, "PNG")
    answers = await asyncio.gather(*(upload(owner, path, out.getvalue()) for _ in range(6)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses[0] == 200 and statuses[-1] == 503, statuses
    for answer in answers:
        if answer.status_code == 503:
            assert_problem(answer, 503, "unavailable")
            assert answer.headers["Retry-After"] == "2"
    # Once the decode is done, the next upload has the slot.
    assert (await upload(owner, path, image_bytes())).status_code == 200
