"""The delivery fee by distance: a store delivers within its radius, at the fee of the first
tier whose distance reaches the address (a store with no tiers charges one flat fee)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

MIN_RADIUS_KM = 0.5
MAX_RADIUS_KM = 15.0
DEFAULT_RADIUS_KM = 3.0
MAX_TIERS = 10
MAX_TIER_FEE = 100_000
# Tier distances are kept to 0.1 km: a finer one is more precision than a rider's route has.
KM_STEP = 0.1


@dataclass(frozen=True)
class FeeTier:
    """Up to `up_to_km` from the store (and beyond the tier before), the fee is `fee` won."""

    up_to_km: float
    fee: int


def tiers_of(radius_km: float, tiers_json: str, flat_fee: int) -> list[FeeTier]:
    """The store's tiers as stored; no tiers means `flat_fee` all the way to the radius."""
    stored = json.loads(tiers_json or "[]")
    if not stored:
        return [FeeTier(up_to_km=radius_km, fee=flat_fee)]
    return [FeeTier(up_to_km=float(t["up_to_km"]), fee=int(t["fee"])) for t in stored]


def tiers_json(tiers: Sequence[FeeTier]) -> str:
    """The tiers as stored."""
    return json.dumps(
        [{"up_to_km": t.up_to_km, "fee": t.fee} for t in tiers], separators=(",", ":")
    )


def fee_for(tiers: Sequence[FeeTier], radius_km: float, distance_km: float) -> int | None:
    """The fee of delivering `distance_km` from the store; None beyond its radius.

    Compared to the metre, as the distance is shown: an address shown 1.0 km away is in the
    tier up to 1 km, whatever the last bits of the float say.
    """
    distance_km = round(distance_km, 3)
    if distance_km > radius_km:
        return None
    for tier in tiers:
        if distance_km <= tier.up_to_km:
            return tier.fee
    # Tiers always reach the radius (checked when set); this is a radius set since.
    return tiers[-1].fee if tiers else None


def _km(value: float) -> str:
    return f"{value:g} km"


def tier_problems(radius_km: float, tiers: Sequence[FeeTier]) -> list[dict[str, str]]:
    """What is wrong with these tiers for this radius, field by field, in sentences."""
    problems: list[dict[str, str]] = []

    def bad(index: int | None, message: str, kind: str = "invalid") -> None:
        field = "delivery_fee_tiers" if index is None else f"delivery_fee_tiers[{index}].up_to_km"
        problems.append({"field": field, "message": message, "type": kind})

    if not tiers:
        bad(None, "Give at least one fee tier, or leave the tiers out for one flat fee.")
        return problems
    for index, tier in enumerate(tiers):
        if abs(round(tier.up_to_km / KM_STEP) * KM_STEP - tier.up_to_km) > 1e-9:
            bad(index, f"Tier {index + 1}'s distance must be in steps of {KM_STEP:g} km.")
        if index and tier.up_to_km <= tiers[index - 1].up_to_km:
            bad(
                index,
                f"Tier {index + 1} must reach farther than tier {index} "
                f"({_km(tiers[index - 1].up_to_km)}): list the tiers from near to far.",
            )
        if index and tier.fee < tiers[index - 1].fee:
            problems.append(
                {
                    "field": f"delivery_fee_tiers[{index}].fee",
                    "message": f"Tier {index + 1} costs less than tier {index}: "
                    "a farther address cannot cost less.",
                    "type": "invalid",
                }
            )
    last = tiers[-1].up_to_km
    if abs(last - radius_km) > 1e-9:
        bad(
            len(tiers) - 1,
            f"The last tier must end at the delivery radius ({_km(radius_km)}), "
            f"not at {_km(last)}.",
        )
    return problems
