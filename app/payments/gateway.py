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
    # Won given back by part refunds while the charge stayed captured.
    refunded_part: int = 0


class PaymentGateway(Protocol):
    """Charge, refund and look up by our reference; every call is idempotent per reference."""

    async def charge(self, *, reference: str, amount: int, card_number: str) -> Charge:
        """Capture `amount`; raises CardDeclined or GatewayError (outcome unknown)."""

    async def lookup(self, *, reference: str) -> Charge | None:
        """The charge made under `reference`, if any."""

    async def void(self, *, reference: str) -> Charge | None:
        """Cancel a charge made under `reference` (if any) so that nothing stays charged."""

    async def refund(self, *, reference: str) -> Charge:
        """Give back all that is still captured; refunding twice refunds once."""

    async def refund_part(self, *, reference: str, refund_reference: str, amount: int) -> Charge:
        """Give `amount` of the charge back, once per `refund_reference`; a charge already
        refunded in full has nothing more to give and answers as it is. Raises GatewayError
        when it cannot (unknown charge, more than is left, no answer)."""
