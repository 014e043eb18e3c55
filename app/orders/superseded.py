"""Charges of requests that lost their Idempotency-Key: voided, so a crash never keeps money.

A retry takes a key over only once its holder's lease has run out. If the holder is alive it
is fenced out when it tries to finish and voids its own charge; if its node died after the
gateway captured the charge, nothing would. The takeover therefore records the old reference
(`SupersededCharge`, in the takeover's transaction) and every node's sweeper voids whatever the
gateway holds under it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from app.db import Database, utcnow
from app.orders.models import SupersededCharge
from app.payments.gateway import PaymentGateway
from app.payments.models import Payment

log = logging.getLogger("delivery.orders")

# A reference the gateway has never heard of may belong to a request paused before its charge
# reached the gateway: it is looked up again on each sweep for this long before it is let go.
UNHEARD_FOR = timedelta(hours=1)


async def void_superseded_charges(
    *, db: Database, gateway: PaymentGateway, older_than: float, batch: int = 100
) -> int:
    """Void what the gateway captured under superseded references; returns how many."""
    now = utcnow()
    async with db.uow() as uow:
        due = (
            await uow.session.execute(
                select(SupersededCharge.id, SupersededCharge.reference, SupersededCharge.created_at)
                .where(
                    SupersededCharge.settled_at.is_(None),
                    SupersededCharge.created_at <= now - timedelta(seconds=older_than),
                )
                .order_by(SupersededCharge.id)
                .limit(batch)
            )
        ).all()
        # The fence makes this impossible; the check costs nothing and guards real money.
        paid = set(
            await uow.session.scalars(
                select(Payment.reference).where(Payment.reference.in_([r.reference for r in due]))
            )
        )
    voided = 0
    for row_id, reference, created_at in due:
        if reference not in paid:
            try:
                charge = await gateway.lookup(reference=reference)
                if charge is None and created_at > now - UNHEARD_FOR:
                    continue
                if charge is not None and charge.status == "captured":
                    await gateway.void(reference=reference)
                    voided += 1
                    log.info("voided charge %s of a request that lost its key", reference)
            except Exception:
                log.warning("could not void superseded charge %s", reference, exc_info=True)
                continue
        async with db.uow() as uow:
            await uow.session.execute(
                update(SupersededCharge)
                .where(SupersededCharge.id == row_id)
                .values(settled_at=utcnow())
            )
            await uow.commit()
    return voided
