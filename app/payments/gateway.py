"""The payment interface the order flow talks to; a real provider plugs in behind it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class GatewayError(Exception):
    """The gateway could not be reached or did not answer in time: the outcome is unknown."""


class CardDeclined(Exception):
    """The gateway declined the card; nothing was charged."""


@dataclass(frozen=True)
class Charge:
    """A charge as the gateway knows it."""

    reference: str
    provider_reference: str
    amount: int
    status: str  # captured | declined | voided | refunded


class PaymentGateway(Protocol):
    """Charge, refund and look up by our reference; every call is idempotent per reference."""

    async def charge(self, *, reference: str, amount: int, card_number: str) -> Charge:
        """Capture `amount`; raises CardDeclined or GatewayError (outcome unknown)."""

    async def lookup(self, *, reference: str) -> Charge | None:
        """The charge made under `reference`, if any."""

    async def void(self, *, reference: str) -> Charge | None:
        """Cancel a charge made under `reference` (if any) so that nothing stays charged."""

    async def refund(self, *, reference: str) -> Charge:
        """Give the full amount back; refunding twice refunds once."""
