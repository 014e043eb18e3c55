"""The settlement's arithmetic and its range rules, without I/O."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.errors import ValidationFailed
from app.orders.schemas import SettlementQuery
from app.orders.settlement import MAX_DAYS, commission_of, settlement_range
from app.validation import load

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("net", "percent", "commission"),
    [
        (22_625, "6.8", 1_539),  # 1,538.5: half up, not to even
        (22_875, "6.8", 1_556),  # 1,555.5
        (43_000, "6.8", 2_924),
        (41_999, "6.8", 2_856),  # 2,855.932
        (1, "6.8", 0),
        (7, "6.8", 0),  # 0.476
        (8, "6.8", 1),  # 0.544
        (0, "6.8", 0),
        (12_345, "0", 0),
        (12_345, "100", 12_345),
        (10**15, "6.8", 68 * 10**12),
    ],
)
def test_commission_is_rounded_half_up_to_the_won(net: int, percent: str, commission: int) -> None:
    assert commission_of(net, Decimal(percent)) == commission


def _range(**params: str) -> tuple[str, str]:
    wanted = settlement_range(load(SettlementQuery, params), TODAY)
    return wanted.first.isoformat(), wanted.last.isoformat()


def test_the_range_defaults_to_the_month_of_its_last_day_up_to_today() -> None:
    assert _range() == ("2026-11-01", "2026-11-26")
    assert _range(to="2026-02-14") == ("2026-02-01", "2026-02-14")
    assert _range(**{"from": "2026-11-20"}) == ("2026-11-20", "2026-11-26")
    assert _range(**{"from": "2026-03-01", "to": "2026-03-01"}) == ("2026-03-01", "2026-03-01")


def test_the_range_is_at_most_366_days_and_never_backwards() -> None:
    assert _range(**{"from": "2025-11-26", "to": "2026-11-26"}) == ("2025-11-26", "2026-11-26")
    assert len(settlement_range(load(SettlementQuery, {"from": "2025-11-26"}), TODAY).days) == (
        MAX_DAYS
    )
    with pytest.raises(ValidationFailed, match="367 days"):
        _range(**{"from": "2025-11-25", "to": "2026-11-26"})
    with pytest.raises(ValidationFailed, match="after it ends"):
        _range(**{"from": "2026-11-27"})
