"""The address book: a customer's own, at most 20, exactly one default whatever the concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.harness import Infra

Factory = Callable[[], Awaitable[Api]]
HOME = {"label": "Home", "text": "12 Sejong-daero, Jung-gu", "lat": 37.5665, "lng": 126.978}
WORK = {"label": "Work", "text": "5 Teheran-ro, Gangnam-gu", "lat": 37.4981, "lng": 127.0276}


async def customer(make: Factory) -> Api:
    api = await make()
    await api.sign_in_as("customer")
    return api


async def add(api: Api, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/me/addresses", json={**HOME, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def book(api: Api) -> list[dict[str, Any]]:
    response = await api.get("/api/me/addresses")
    assert response.status_code == 200, response.text
    addresses: list[dict[str, Any]] = response.json()["addresses"]
    return addresses


def defaults_in_db(infra: Infra, customer_id: int) -> list[int]:
    rows = infra.query(
        "SELECT id FROM addresses WHERE customer_id = %s AND is_default = 1", customer_id
    )
    return [int(str(row[0])) for row in rows]


def uid(api: Api) -> int:
    assert api.user is not None
    return int(api.user["id"])


async def test_the_first_address_is_the_default_and_the_default_moves_and_is_listed_first(
    api_factory: Factory, infra: Infra
) -> None:
    me = await customer(api_factory)
    assert await book(me) == []
    home = await add(me, rider_note="Gate code 1234")
    assert home == {**HOME, "id": home["id"], "rider_note": "Gate code 1234", "default": True}
    work = await add(me, **WORK)
    assert work["default"] is False and work["rider_note"] is None
    assert [a["id"] for a in await book(me)] == [home["id"], work["id"]]

    moved = await me.patch(f"/api/me/addresses/{work['id']}", json={"default": True})
    assert moved.status_code == 200, moved.text
    assert moved.json()["default"] is True
    listed = await book(me)
    assert [(a["id"], a["default"]) for a in listed] == [(work["id"], True), (home["id"], False)]
    assert defaults_in_db(infra, uid(me)) == [work["id"]]

    # A third one sent with `default` takes it over at once.
    gym = await add(me, label="Gym", default=True)
    assert [a["id"] for a in await book(me) if a["default"]] == [gym["id"]]

    # Deleting the default hands it to the earliest added of the others.
    gone = await me.delete(f"/api/me/addresses/{gym['id']}")
    assert gone.status_code == 204 and gone.content == b""
    assert [(a["id"], a["default"]) for a in await book(me)] == [
        (home["id"], True),
        (work["id"], False),
    ]
    assert (await me.delete(f"/api/me/addresses/{home['id']}")).status_code == 204
    assert [(a["id"], a["default"]) for a in await book(me)] == [(work["id"], True)]
    assert (await me.delete(f"/api/me/addresses/{work['id']}")).status_code == 204
    assert await book(me) == []
    # Deleted is gone: a second delete or an edit is 404.
    assert_problem(await me.delete(f"/api/me/addresses/{work['id']}"), 404, "not-found")
    assert_problem(
        await me.patch(f"/api/me/addresses/{work['id']}", json={"label": "x"}), 404, "not-found"
    )


async def test_patch_changes_only_the_fields_sent_and_an_empty_note_clears_it(
    api_factory: Factory,
) -> None:
    me = await customer(api_factory)
    home = await add(me, rider_note="Ring twice")
    patched = await me.patch(
        f"/api/me/addresses/{home['id']}", json={"text": "  14 Sejong-daero  ", "lat": 37.57}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json() == {
        **home,
        "text": "14 Sejong-daero",
        "lat": 37.57,
    }
    cleared = await me.patch(f"/api/me/addresses/{home['id']}", json={"rider_note": ""})
    assert cleared.json()["rider_note"] is None
    # Sending `default: true` to the default changes nothing; `false` is refused.
    again = await me.patch(f"/api/me/addresses/{home['id']}", json={"default": True})
    assert again.status_code == 200 and again.json()["default"] is True
    refused = assert_problem(
        await me.patch(f"/api/me/addresses/{home['id']}", json={"default": False}),
        400,
        "validation",
    )
    assert refused["errors"] == [
        {
            "field": "default",
            "message": "Make another address the default instead.",
            "type": "invalid",
        }
    ]
    assert "another address the default" in refused["detail"]
    assert [a["default"] for a in await book(me)] == [True]


async def test_bad_input_is_refused_field_by_field_and_writes_nothing(
    api_factory: Factory, infra: Infra
) -> None:
    me = await customer(api_factory)
    home = await add(me)
    bad_bodies: list[tuple[dict[str, Any], str]] = [
        ({k: v for k, v in HOME.items() if k != "label"}, "label"),
        ({**HOME, "label": ""}, "label"),
        ({**HOME, "label": "x" * 41}, "label"),
        ({**HOME, "text": "x" * 301}, "text"),
        ({**HOME, "lat": 91}, "lat"),
        ({**HOME, "lng": -180.5}, "lng"),
        ({**HOME, "lat": "37.5"}, "lat"),
        ({**HOME, "rider_note": "x" * 201}, "rider_note"),
        ({**HOME, "default": "yes"}, "default"),
        ({**HOME, "customer_id": 1}, "customer_id"),
    ]
    for bad, field in bad_bodies:
        refused = assert_problem(await me.post("/api/me/addresses", json=bad), 400, "validation")
        assert field in [e["field"] for e in refused["errors"]], (bad, refused)
    for bad, field in [
        ({"label": None}, "label"),
        ({"default": None}, "default"),
        ({"lat": 200}, "lat"),
        ({"rider_note": "x" * 201}, "rider_note"),
        ({"id": 5}, "id"),
    ]:
        refused = assert_problem(
            await me.patch(f"/api/me/addresses/{home['id']}", json=bad), 400, "validation"
        )
        assert field in [e["field"] for e in refused["errors"]], (bad, refused)
    # A number too large for a double reads as infinity: still out of range.
    huge = await me.post(
        "/api/me/addresses",
        content=b'{"label": "Far", "text": "x", "lat": 1e400, "lng": 0}',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(huge, 400, "validation")
    not_json = await me.post("/api/me/addresses", content=b"label=Home")
    assert_problem(not_json, 415, "unsupported-media-type")
    assert infra.query("SELECT COUNT(*) FROM addresses") == [(1,)]
    assert await book(me) == [home]
    # Ids no row can have are simply unknown.
    for path in ("/api/me/addresses/0", "/api/me/addresses/99999999999999999999"):
        assert (await me.patch(path, json={"label": "x"})).status_code == 404
        assert (await me.delete(path)).status_code == 404


async def test_an_address_book_holds_twenty_addresses(api_factory: Factory) -> None:
    me = await customer(api_factory)
    made = [await add(me, label=f"Place {i}") for i in range(20)]
    full = assert_problem(
        await me.post("/api/me/addresses", json={**HOME, "label": "One more"}),
        409,
        "limit-reached",
    )
    assert "at most 20" in full["detail"]
    assert len(await book(me)) == 20
    assert (await me.delete(f"/api/me/addresses/{made[5]['id']}")).status_code == 204
    await add(me, label="One more")
    assert len(await book(me)) == 20


async def test_another_customers_addresses_are_unknown_and_other_roles_are_refused(
    api_factory: Factory, infra: Infra
) -> None:
    me, other = await customer(api_factory), await customer(api_factory)
    mine = await add(me, rider_note="Mine")
    await add(other, label="Theirs")
    assert [a["id"] for a in await book(me)] == [mine["id"]]
    path = f"/api/me/addresses/{mine['id']}"
    assert_problem(await other.patch(path, json={"default": True}), 404, "not-found")
    assert_problem(await other.patch(path, json={"label": "Stolen"}), 404, "not-found")
    assert_problem(await other.delete(path), 404, "not-found")
    assert await book(me) == [mine]
    assert len(defaults_in_db(infra, uid(other))) == 1
    for role in ("owner", "rider"):
        someone = await api_factory()
        await someone.sign_in_as(role)
        assert_problem(await someone.get("/api/me/addresses"), 403, "forbidden")
        assert_problem(await someone.post("/api/me/addresses", json=HOME), 403, "forbidden")
        assert_problem(await someone.delete(path), 403, "forbidden")
    anonymous = await api_factory()
    assert_problem(await anonymous.get("/api/me/addresses"), 401, "unauthenticated")
    # Without the CSRF header a cookie session cannot write.
    me_no_csrf = await api_factory()
    me.share_session_with(me_no_csrf)
    me_no_csrf.csrf = None
    assert_problem(await me_no_csrf.delete(path), 403, "csrf")
    assert await book(me) == [mine]


async def _cast_on_two_nodes(apps: AppPool) -> tuple[Api, Api]:
    node_a, node_b = await apps.start(), await apps.start()
    on_a, on_b = await apps.client(node_a), await apps.client(node_b)
    await on_a.sign_in_as("customer")
    on_a.share_session_with(on_b)
    return on_a, on_b


async def test_the_default_moved_by_racing_requests_on_two_nodes_stays_exactly_one(
    apps: AppPool, infra: Infra
) -> None:
    on_a, on_b = await _cast_on_two_nodes(apps)
    places = [await add(on_a, label=f"Place {i}") for i in range(4)]
    for round_ in range(8):
        first, second = places[round_ % 4], places[(round_ + 1) % 4]
        answers = await asyncio.gather(
            on_a.patch(f"/api/me/addresses/{first['id']}", json={"default": True}),
            on_b.patch(f"/api/me/addresses/{second['id']}", json={"default": True}),
            on_a.post(
                "/api/me/addresses", json={**HOME, "label": f"New {round_}", "default": True}
            ),
            on_b.delete(f"/api/me/addresses/{places[(round_ + 2) % 4]['id']}")
            if round_ == 7
            else on_b.get("/api/me/addresses"),
        )
        assert [r.status_code for r in answers[:3]] == [200, 200, 201], [a.text for a in answers]
        listed = await book(on_b)
        defaults = [a["id"] for a in listed if a["default"]]
        assert len(defaults) == 1, listed
        assert listed[0]["id"] == defaults[0]
        assert defaults_in_db(infra, uid(on_a)) == defaults
        # The default is one of the three that asked for it in this round.
        assert defaults[0] in (first["id"], second["id"], answers[2].json()["id"])
        for extra in [a for a in listed if a["label"].startswith("New")]:
            assert (await on_a.delete(f"/api/me/addresses/{extra['id']}")).status_code == 204


async def test_racing_additions_on_two_nodes_never_pass_twenty(apps: AppPool, infra: Infra) -> None:
    on_a, on_b = await _cast_on_two_nodes(apps)
    for i in range(17):
        await add(on_a, label=f"Place {i}")
    answers = await asyncio.gather(
        *(
            (on_a if i % 2 else on_b).post(
                "/api/me/addresses", json={**HOME, "label": f"Racer {i}", "default": True}
            )
            for i in range(8)
        )
    )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] * 3 + [409] * 5, [r.text for r in answers]
    for refused in (r for r in answers if r.status_code == 409):
        assert refused.json()["code"] == "limit-reached"
    assert infra.query("SELECT COUNT(*) FROM addresses WHERE customer_id = %s", uid(on_a)) == [
        (20,)
    ]
    created = {r.json()["id"] for r in answers if r.status_code == 201}
    [default] = defaults_in_db(infra, uid(on_a))
    assert default in created
