"""A store's settlement: the delivered orders and their part refunds per day in the store's
zone, summed to the won; who may read it; what ranges it refuses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.harness import Infra
from tests.orders.helpers import place
from tests.reviews.helpers import Diner, deliver, diner
from tests.rewards.helpers import sign_in_admin

SEOUL = ZoneInfo("Asia/Seoul")


def _path(store_id: int) -> str:
    return f"/api/stores/{store_id}/settlement"


def _delivered_at(infra: Infra, order_id: int, at: datetime) -> None:
    """Move the order's delivery to `at` (the harness cannot move the clock)."""
    moved = infra.query(
        "UPDATE order_timeline SET at = %s WHERE order_id = %s AND status = 'delivered'",
        at.astimezone(UTC).replace(tzinfo=None),
        order_id,
    )
    assert moved == []
    [(count,)] = infra.query(
        "SELECT COUNT(*) FROM order_timeline WHERE order_id = %s AND status = 'delivered' "
        "AND at = %s",
        order_id,
        at.astimezone(UTC).replace(tzinfo=None),
    )
    assert count == 1


def _all_times_at(infra: Infra, order_id: int, at: datetime) -> None:
    infra.query(
        "UPDATE order_timeline SET at = %s WHERE order_id = %s",
        at.astimezone(UTC).replace(tzinfo=None),
        order_id,
    )


def _commission(net: int) -> int:
    """6.8 % of `net`, half up to the won, in integers (independent of the app's Decimal)."""
    return (net * 68 + 500) // 1000


async def _refund(owner: Api, order_id: int, body: dict[str, Any]) -> None:
    response = await owner.post(
        f"/api/orders/{order_id}/refunds", json={"reason": "Sorry.", **body}
    )
    assert response.status_code == 201, response.text


def _day_from_rows(infra: Infra, order_ids: list[int]) -> dict[str, int]:
    """What the stored orders and refund rows themselves come to."""
    marks = ", ".join(["%s"] * len(order_ids))
    [(orders, gross)] = infra.query(
        f"SELECT COUNT(*), SUM(total) FROM orders WHERE id IN ({marks})", *order_ids
    )
    [(refunds,)] = infra.query(
        f"SELECT COALESCE(SUM(amount), 0) FROM order_refunds WHERE order_id IN ({marks})",
        *order_ids,
    )
    gross_won, refunds_won = int(str(gross)), int(str(refunds))
    commission = _commission(gross_won - refunds_won)
    return {
        "orders": int(str(orders)),
        "gross": gross_won,
        "refunds": refunds_won,
        "commission": commission,
        "payout": gross_won - refunds_won - commission,
    }


async def test_settlement_adds_up_the_delivered_orders_and_their_refunds_per_day_in_the_stores_zone(
    apps: AppPool, infra: Infra
) -> None:
    node = await apps.start()
    d = await diner(*[await apps.client(node) for _ in range(3)])
    late_first, early_second, late_second, next_day = [await d.delivered_order() for _ in range(4)]
    # Part refunds, before and after delivery. 375 makes day one's commission 1,538.5: half
    # up gives 1,539 (half to even would give 1,538).
    await _refund(d.owner, late_first["id"], {"amount": 375})
    await _refund(
        d.owner,
        early_second["id"],
        {"lines": [{"menu_item_id": d.shop.fries["id"], "quantity": 1}]},
    )
    await _refund(d.owner, early_second["id"], {"amount": 1_001})
    # A rejected, a cancelled-after-accepting and an accepted order, all inside the range:
    # none of them is delivered, so none counts (nor do the refunds of the accepted one).
    rejected = await place(d.customer, d.shop)
    assert (await d.owner.post(f"/api/orders/{rejected['id']}/reject", json={})).status_code == 200
    cancelled = await place(d.customer, d.shop)
    assert (
        await d.owner.post(f"/api/orders/{cancelled['id']}/accept", json={"prep_minutes": 5})
    ).status_code == 200
    await _refund(d.owner, cancelled["id"], {"amount": 700})
    cancel = await d.owner.post(f"/api/orders/{cancelled['id']}/cancel", json={"reason": "Out."})
    assert cancel.status_code == 200, cancel.text
    open_order = await place(d.customer, d.shop)
    assert (
        await d.owner.post(f"/api/orders/{open_order['id']}/accept", json={"prep_minutes": 5})
    ).status_code == 200
    await _refund(d.owner, open_order["id"], {"amount": 900})

    def seoul(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 3, day, hour, minute, tzinfo=SEOUL)

    # 1 March 23:30 in Seoul is still 1 March there (14:30 UTC); 2 March 00:10 is 1 March
    # 15:10 UTC; 3 March 00:00 sharp belongs to the 3rd.
    _delivered_at(infra, late_first["id"], seoul(1, 23, 30))
    _delivered_at(infra, early_second["id"], seoul(2, 0, 10))
    _delivered_at(infra, late_second["id"], seoul(2, 23, 59))
    _delivered_at(infra, next_day["id"], seoul(3, 0, 0))
    for order in (rejected, cancelled, open_order):
        _all_times_at(infra, order["id"], seoul(2, 12))

    response = await d.owner.get(
        _path(d.shop.id), params={"from": "2026-03-01", "to": "2026-03-02"}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    first = {"date": "2026-03-01", **_day_from_rows(infra, [late_first["id"]])}
    second = {
        "date": "2026-03-02",
        **_day_from_rows(infra, [early_second["id"], late_second["id"]]),
    }
    assert report["days"] == [first, second]
    # The figures by hand: 23,000 − 375 at 6.8 % is 1,538.5, rounded up; 46,000 − 4,001.
    assert (first["gross"], first["refunds"], first["commission"]) == (23_000, 375, 1_539)
    assert (second["orders"], second["refunds"], second["commission"]) == (2, 4_001, 2_856)
    assert report["orders"] == 3
    for field in ("gross", "refunds", "commission", "payout"):
        assert report[field] == first[field] + second[field], field
    assert report["payout"] == report["gross"] - report["refunds"] - report["commission"]
    assert (report["first_day"], report["last_day"], report["timezone"]) == (
        "2026-03-01",
        "2026-03-02",
        "Asia/Seoul",
    )
    assert report["commission_percent"] == 6.8

    # One day alone; and three days, where the 3rd has the order delivered at its midnight.
    one = (
        await d.owner.get(_path(d.shop.id), params={"from": "2026-03-02", "to": "2026-03-02"})
    ).json()
    assert one["days"] == [second] and one["gross"] == second["gross"]
    three = (
        await d.owner.get(_path(d.shop.id), params={"from": "2026-03-01", "to": "2026-03-03"})
    ).json()
    assert [day["date"] for day in three["days"]] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert three["days"][2] == {"date": "2026-03-03", **_day_from_rows(infra, [next_day["id"]])}

    # In New York (UTC−5 in March) the same deliveries fall on other days: all four on
    # 1 and 2 March there, the first two on the 1st.
    hours = await d.owner.put(
        f"/api/stores/{d.shop.id}/hours", json={"weekly": [], "timezone": "America/New_York"}
    )
    assert hours.status_code == 200, hours.text
    there = (
        await d.owner.get(_path(d.shop.id), params={"from": "2026-03-01", "to": "2026-03-02"})
    ).json()
    assert there["timezone"] == "America/New_York"
    assert there["days"] == [
        {"date": "2026-03-01", **_day_from_rows(infra, [late_first["id"], early_second["id"]])},
        {"date": "2026-03-02", **_day_from_rows(infra, [late_second["id"], next_day["id"]])},
    ]


async def test_settlement_defaults_to_this_month_up_to_today_in_the_stores_zone(
    apps: AppPool,
) -> None:
    node = await apps.start()
    d = await diner(*[await apps.client(node) for _ in range(3)])
    order = await d.delivered_order()
    today = datetime.now(SEOUL).date()
    report = (await d.owner.get(_path(d.shop.id))).json()
    # Around midnight the request may have been answered on the next day.
    assert report["last_day"] in (today.isoformat(), (today + timedelta(days=1)).isoformat())
    assert report["first_day"] == date.fromisoformat(report["last_day"]).replace(day=1).isoformat()
    assert report["orders"] == 1 and report["gross"] == order["total"]
    assert report["days"][0]["date"] == report["last_day"]
    only_to = (await d.owner.get(_path(d.shop.id), params={"to": "2026-02-14"})).json()
    assert (only_to["first_day"], only_to["last_day"], only_to["days"]) == (
        "2026-02-01",
        "2026-02-14",
        [],
    )
    assert (only_to["orders"], only_to["gross"], only_to["payout"]) == (0, 0, 0)
    # The longest range: 366 days, both included.
    longest = await d.owner.get(_path(d.shop.id), params={"from": "2025-03-01", "to": "2026-03-01"})
    assert longest.status_code == 200, longest.text


async def _other_store(apps: AppPool, node: Any) -> Diner:
    return await diner(*[await apps.client(node) for _ in range(3)])


async def test_only_the_stores_owner_or_an_admin_reads_its_settlement(apps: AppPool) -> None:
    node = await apps.start()
    d = await diner(*[await apps.client(node) for _ in range(3)])
    await deliver(await place(d.customer, d.shop), d.owner, d.rider)
    other = await _other_store(apps, node)
    path = _path(d.shop.id)
    mine = await d.owner.get(path)
    assert mine.status_code == 200, mine.text

    body = assert_problem(await other.owner.get(path), 403, "forbidden")
    assert "owner" in body["detail"]
    assert_problem(await d.customer.get(path), 403, "forbidden")
    assert_problem(await d.rider.get(path), 403, "forbidden")
    assert_problem(await (await apps.client(node)).get(path), 401, "unauthenticated")

    admin = await sign_in_admin(apps, node)
    seen = await admin.get(path)
    assert seen.status_code == 200, seen.text
    assert seen.json() == mine.json()
    # Not a store: 404, whoever asks, up to ids no row can have.
    for store_id in (d.shop.id + 10_000, 2**63 - 1, 2**63, 10**30):
        assert_problem(await d.owner.get(_path(store_id)), 404, "not-found")
    assert_problem(await d.owner.get("/api/stores/-1/settlement"), 404, "not-found")


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"from": "2026-03-02", "to": "2026-03-01"}, "after it ends"),
        ({"from": "1999-01-01", "to": "2026-03-01"}, "From must be a day from 2000-01-01"),
        ({"from": "2000-01-01", "to": "2027-05-18"}, "at most 366"),
        ({"from": "2025-02-28", "to": "2026-03-01"}, "367 days"),
        ({"from": "2026-02-30"}, "2026-02-30 is not"),
        ({"to": "yesterday"}, "To must be a date, like 2026-01-31."),
        ({"to": "20260101"}, "To must be a date, like 2026-01-31."),
        ({"to": "1700000000"}, "To must be a date, like 2026-01-31."),
        ({"from": ""}, "From must be a date, like 2026-01-31."),
        ({"to": "2026-03-01T00:00:00Z"}, "To must be a date, like 2026-01-31."),
        ({"to": "9999-12-31"}, "To must be a day from 2000-01-01 to 2999-12-31."),
        ({"to": "0001-01-01"}, "To must be a day from 2000-01-01 to 2999-12-31."),
        ({"store": "1"}, "is not a field"),
    ],
)
async def test_settlement_refuses_ranges_it_does_not_report_with_a_sentence(
    apps: AppPool, params: dict[str, str], says: str
) -> None:
    node = await apps.start()
    owner = await apps.client(node)
    await owner.sign_in_as("owner")
    created = await owner.post(
        "/api/stores",
        json={
            "name": "Settled",
            "category": "burger",
            "address": "1 Sejong-daero, Seoul",
            "lat": 37.566,
            "lng": 126.977,
            "phone": "02-123-4567",
            "min_order": 10_000,
            "delivery_fee": 3_000,
        },
    )
    assert created.status_code == 201, created.text
    body = assert_problem(
        await owner.get(_path(created.json()["id"]), params=params), 400, "validation"
    )
    told = " ".join([body["detail"], *(e["message"] for e in body.get("errors") or [])])
    assert says in told, told
    assert "Traceback" not in told
