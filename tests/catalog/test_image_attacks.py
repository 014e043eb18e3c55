"""Image uploads under attack, on a real node whose memory is read from /proc: a tiny PNG that
claims a huge canvas costs nothing when the store is not the caller's (403 before the body is
read) and is refused by its header when it is (413, never decoded)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.launcher.nodes import Node
from tests.catalog.conftest import create_store, flat_png, image_bytes, upload
from tests.client import Api, assert_problem
from tests.harness import Infra

SIDE = 6300  # 39.7 megapixels: 119 MB as RGB once decoded
MIB = 1024 * 1024
# One decode of the canvas costs 119 MB, six over 700 MB; handling the requests costs ~1 MiB.
GROWTH_BOUND = 32 * MIB


@pytest.fixture(scope="module")
def bomb() -> Iterator[bytes]:
    """The attack's file: about 130 KB, 6300×6300 pixels."""
    data = flat_png(SIDE, SIDE)
    assert len(data) < 200 * 1024
    yield data


@pytest.fixture
async def node(settings: Settings, infra: Infra) -> AsyncIterator[Node]:
    """A real node on the test's services, stopped at the end."""
    started = infra.start_node("image-attacks")
    try:
        yield started
    finally:
        started.stop()


def peak_rss(node: Node) -> int:
    """The node's peak resident memory so far (VmHWM), in bytes."""
    assert node.process is not None
    for line in Path(f"/proc/{node.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture
async def owners(node: Node) -> AsyncIterator[tuple[Api, Api]]:
    """Two signed-in owners on the node: the store's, and another."""
    async with (
        httpx.AsyncClient(base_url=node.url, timeout=60) as first,
        httpx.AsyncClient(base_url=node.url, timeout=60) as second,
    ):
        mine, theirs = Api(first), Api(second)
        await mine.sign_in_as("owner")
        await theirs.sign_in_as("owner")
        yield mine, theirs


async def test_six_concurrent_bombs_at_a_store_not_owned_are_403_and_cost_no_memory(
    node: Node, owners: tuple[Api, Api], bomb: bytes
) -> None:
    owner, attacker = owners
    store = await create_store(owner)
    # A small upload first, so that what any upload costs is in the baseline.
    warm = await upload(owner, f"/api/stores/{store['id']}/image", image_bytes("PNG"))
    assert warm.status_code == 200, warm.text
    before = peak_rss(node)
    answers = await asyncio.gather(
        *(upload(attacker, f"/api/stores/{store['id']}/image", bomb) for _ in range(6))
    )
    for answer in answers:
        assert_problem(answer, 403, "forbidden")
    growth = peak_rss(node) - before
    assert growth < GROWTH_BOUND, f"peak memory grew {growth / MIB:.0f} MiB"


async def test_the_bomb_at_ones_own_store_is_too_large_by_its_header_and_not_decoded(
    node: Node, owners: tuple[Api, Api], bomb: bytes, infra: Infra
) -> None:
    owner, _ = owners
    store = await create_store(owner)
    warm = await upload(owner, f"/api/stores/{store['id']}/image", image_bytes("PNG"))
    assert warm.status_code == 200, warm.text
    before = peak_rss(node)
    refused = await upload(owner, f"/api/stores/{store['id']}/image", bomb)
    problem = assert_problem(refused, 413, "too-large")
    assert f"{SIDE}×{SIDE}" in problem["detail"]
    growth = peak_rss(node) - before
    assert growth < GROWTH_BOUND, f"peak memory grew {growth / MIB:.0f} MiB"
    # The image it had is still the one shown.
    page = (await owner.get(f"/api/stores/{store['id']}")).json()
    assert page["image_url"] == warm.json()["image_url"]
    # A normal photo still goes through.
    normal = await upload(
        owner, f"/api/stores/{store['id']}/image", image_bytes("JPEG", size=(1200, 900))
    )
    assert normal.status_code == 200, normal.text


async def _slowly(parts: list[bytes]) -> AsyncIterator[bytes]:
    """A body sent as a phone on a poor network would: a piece every few milliseconds."""
    for part in parts:
        await asyncio.sleep(0.005)
        yield part


async def test_a_refused_upload_from_a_slow_client_gets_its_answer_not_a_reset(
    node: Node, owners: tuple[Api, Api]
) -> None:
    owner, attacker = owners
    store = await create_store(owner)
    boundary = "hostile-upload"
    payload = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + flat_png(2000, 2000)
        + b"\0" * (2 * MIB)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    pieces = [payload[i : i + 32 * 1024] for i in range(0, len(payload), 32 * 1024)]
    assert len(pieces) > 60  # still sending long after the node has decided
    for _ in range(3):
        response = await attacker.put(
            f"/api/stores/{store['id']}/image",
            content=_slowly(pieces),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(payload)),
            },
        )
        assert_problem(response, 403, "forbidden")
