"""The address book's rules hold in the embedded mode too (SQLite has no row locks): racing
additions and default moves leave exactly one default and never more than twenty addresses."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.client import Api
from tests.customers.test_addresses import HOME
from tests.embedded import embedded_app


def _rows(database: Path, customer_id: int) -> tuple[int, int]:
    with sqlite3.connect(database) as connection:
        row = connection.execute(
            "SELECT COUNT(*), COALESCE(SUM(is_default = 1), 0) FROM addresses "
            "WHERE customer_id = ?",
            (customer_id,),
        ).fetchone()
    return int(row[0]), int(row[1])


async def test_racing_additions_and_default_moves_keep_one_default_and_twenty_at_most(
    tmp_path: Path,
) -> None:
    async with embedded_app(tmp_path) as embedded, embedded.client() as http:
        api = Api(http)
        await api.sign_in_as("customer")
        assert api.user is not None
        customer_id = int(api.user["id"])
        answers = await asyncio.gather(
            *(
                api.post(
                    "/api/me/addresses",
                    json={**HOME, "label": f"Racer {i}", "default": i % 2 == 0},
                )
                for i in range(30)
            )
        )
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [201] * 20 + [409] * 10, [r.text for r in answers]
        made = [r.json()["id"] for r in answers if r.status_code == 201]
        moves = await asyncio.gather(
            *(api.patch(f"/api/me/addresses/{i}", json={"default": True}) for i in made)
        )
        assert {r.status_code for r in moves} == {200}, [r.text for r in moves]
        listed = (await api.get("/api/me/addresses")).json()["addresses"]
    assert _rows(embedded.database, customer_id) == (20, 1)
    assert [a["default"] for a in listed].count(True) == 1
    assert listed[0]["default"] is True
