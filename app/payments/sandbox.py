"""The sandbox card gateway: the default provider, with its documented special card numbers.

Any 16-digit number is approved, except `4000000000000002` (declined) and `4000000000000119`
(the charge goes through but the answer never arrives: the caller sees a time-out and must find
out what happened by looking the charge up). Its ledger is its own table, written in its own
transactions, like a remote provider's books; every call is idempotent per merchant reference.
"""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.db import Database
from app.payments.gateway import CardDeclined, Charge, GatewayError
from app.payments.models import GatewayBase, SandboxCharge, SandboxRefund

DECLINED_CARD = "4000000000000002"
TIMEOUT_CARD = "4000000000000119"


def _as_charge(row: SandboxCharge, refunded_part: int = 0) -> Charge:
    return Charge(
        reference=row.reference,
        provider_reference=row.provider_reference,
        amount=row.amount,
        status=row.status,
        refunded_part=refunded_part,
    )


class SandboxCardGateway:
    """A card gateway that behaves like a real one, backed by its own ledger table."""

    def __init__(self, db: Database, *, latency: float = 0.0) -> None:
        self._db = db
        self._latency = latency

    async def open(self) -> None:
        """Create the ledger table if this database does not have it yet."""
        async with self._db.engine.begin() as conn:
            await conn.run_sync(GatewayBase.metadata.create_all)

    async def close(self) -> None:
        """Release the ledger's connections."""
        await self._db.close()

    async def _pause(self) -> None:
        if self._latency:
            await asyncio.sleep(self._latency)

    async def charge(self, *, reference: str, amount: int, card_number: str) -> Charge:
        """Capture `amount` under `reference` (a second call returns the first charge)."""
        await self._pause()
        status = "declined" if card_number == DECLINED_CARD else "captured"
        row = SandboxCharge(
            reference=reference,
            provider_reference="sbx_" + secrets.token_hex(12),
            amount=amount,
            card_last4=card_number[-4:],
            status=status,
        )
        try:
            async with self._db.uow() as uow:
                uow.session.add(row)
                await uow.commit()
        except IntegrityError:
            # Charged under this reference before (a retry, or concurrently): the gateway
            # answers with the first charge and never charges twice.
            found = await self.lookup(reference=reference)
            assert found is not None
            if found.status == "declined":
                raise CardDeclined(reference) from None
            return found
        if status == "declined":
            raise CardDeclined(reference)
        if card_number == TIMEOUT_CARD:
            raise GatewayError("the gateway did not answer in time")
        return _as_charge(row)

    async def lookup(self, *, reference: str) -> Charge | None:
        """The charge under `reference`, or None."""
        async with self._db.uow() as uow:
            row = await uow.session.scalar(
                select(SandboxCharge).where(SandboxCharge.reference == reference)
            )
        return _as_charge(row) if row is not None else None

    async def _set_status(
        self, reference: str, new: str, allowed: tuple[str, ...]
    ) -> Charge | None:
        async with self._db.uow() as uow:
            row = await uow.session.scalar(
                select(SandboxCharge).where(SandboxCharge.reference == reference).with_for_update()
            )
            if row is None:
                return None
            if row.status in allowed:
                row.status = new
                await uow.commit()
            return _as_charge(row)

    async def void(self, *, reference: str) -> Charge | None:
        """Reverse a captured charge; a missing or declined one needs nothing."""
        await self._pause()
        return await self._set_status(reference, "voided", ("captured",))

    async def refund(self, *, reference: str) -> Charge:
        """Refund all that is still captured (the charge less its part refunds); refunding
        twice refunds once."""
        await self._pause()
        charge = await self._set_status(reference, "refunded", ("captured",))
        if charge is None:
            raise GatewayError(f"no charge under {reference}")
        return charge

    async def refund_part(self, *, reference: str, refund_reference: str, amount: int) -> Charge:
        """Give `amount` back under `refund_reference` (a second call refunds nothing more)."""
        await self._pause()
        async with self._db.uow() as uow:
            # The charge's row lock queues part refunds of one charge, so their sum is checked
            # against the charge with nothing slipping in between.
            row = await uow.session.scalar(
                select(SandboxCharge).where(SandboxCharge.reference == reference).with_for_update()
            )
            if row is None:
                raise GatewayError(f"no charge under {reference}")
            done = await uow.session.scalar(
                select(SandboxRefund.id).where(SandboxRefund.reference == refund_reference)
            )
            given = int(
                await uow.session.scalar(
                    select(func.coalesce(func.sum(SandboxRefund.amount), 0)).where(
                        SandboxRefund.charge_reference == reference
                    )
                )
                or 0
            )
            if done is not None or row.status != "captured":
                # A retry, or a charge refunded in full since (which gave back all that was
                # left, this part included): nothing more moves.
                return _as_charge(row, given)
            if amount <= 0 or given + amount > row.amount:
                raise GatewayError(
                    f"cannot refund {amount} of {reference}: {row.amount - given} is left"
                )
            uow.session.add(
                SandboxRefund(charge_reference=reference, reference=refund_reference, amount=amount)
            )
            await uow.commit()
            return _as_charge(row, given + amount)
