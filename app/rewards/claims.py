"""Claiming a coupon: one atomic Redis step decides fast, the database decides for good."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis.exceptions import LockError, RedisError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.db import Database, UnitOfWork, rfc3339, utcnow
from app.errors import Conflict, Unavailable
from app.rewards.counter import ALREADY_CLAIMED, NOT_READY, SOLD_OUT, ClaimCounter, Take
from app.rewards.coupons import COUNTER_GRACE, counter_ttl
from app.rewards.ledger import insert_ignore
from app.rewards.models import Coupon, CouponCampaign, CouponClaimBacklog, CouponStatus
from app.rewards.presenter import coupon_view
from app.rewards.schemas import CouponOut

log = logging.getLogger("delivery.rewards")


@dataclass(frozen=True)
class Claimed:
    """A claim's result: the coupon, or None when it was parked in the backlog for replay."""

    coupon: CouponOut | None


async def rebuild_counters(*, db: Database, counter: ClaimCounter, campaign_id: int) -> bool:
    """Rebuild lost counters from the database under a lock; False if another holder is at it."""
    lock = counter.redis.lock(f"lock:coupon-rebuild:{campaign_id}", timeout=30)
    # Claims that find the rebuild under way answer 503 at once rather than queueing on it.
    if not await lock.acquire(blocking=False):
        return False
    try:
        if await counter.ready(campaign_id):
            return True  # another node rebuilt them while this one waited
        async with db.uow() as uow:
            campaign = await uow.session.get(CouponCampaign, campaign_id)
            if campaign is None:
                return False
            claimed = set(
                await uow.session.scalars(
                    select(Coupon.customer_id).where(Coupon.campaign_id == campaign_id)
                )
            )
            claimed.update(
                await uow.session.scalars(
                    select(CouponClaimBacklog.customer_id).where(
                        CouponClaimBacklog.campaign_id == campaign_id
                    )
                )
            )
        # Claims still in flight from before the loss may commit after this read; the
        # database guard (issued < quantity, one coupon per customer) refuses any extra.
        await counter.load(
            campaign_id,
            left=campaign.quantity - campaign.issued,
            customers=claimed,
            ttl_seconds=counter_ttl(campaign),
        )
        log.warning("rebuilt coupon counters of campaign %s from the database", campaign_id)
        return True
    finally:
        try:
            await lock.release()
        except LockError:
            log.warning("rebuild lock of campaign %s expired before release", campaign_id)


async def claim_coupon(
    *, db: Database, counter: ClaimCounter, campaign: CouponCampaign, customer_id: int
) -> Claimed:
    """Claim one coupon of `campaign` for the customer: 409 sold out / already claimed."""
    now = utcnow()
    if now < campaign.starts_at:
        raise Conflict(
            f"Campaign {campaign.id} starts at {rfc3339(campaign.starts_at)}.",
            code="coupon-unusable",
            title="Campaign not started",
        )
    if now >= campaign.ends_at:
        raise Conflict(
            f"Campaign {campaign.id} ended at {rfc3339(campaign.ends_at)}.",
            code="coupon-unusable",
            title="Campaign ended",
        )
    try:
        take = await counter.take(campaign.id, customer_id)
        if take.left == NOT_READY and await rebuild_counters(
            db=db, counter=counter, campaign_id=campaign.id
        ):
            take = await counter.take(campaign.id, customer_id)
    except (RedisError, OSError) as error:
        raise Unavailable("The coupon counter is unavailable; try again.") from error
    if take.left == NOT_READY:
        raise Unavailable("The coupon counter is being rebuilt; try again.")
    if take.left == ALREADY_CLAIMED:
        raise _already_claimed(campaign.id)
    if take.left == SOLD_OUT:
        raise _sold_out(campaign.id)
    # Once the counter has granted, finish the durable write even if the client goes away.
    return await asyncio.shield(
        _record(db=db, counter=counter, campaign=campaign, customer_id=customer_id, take=take)
    )


def _already_claimed(campaign_id: int) -> Conflict:
    return Conflict(
        f"You already have a coupon of campaign {campaign_id}.",
        code="coupon-already-claimed",
        title="Already claimed",
    )


def _sold_out(campaign_id: int) -> Conflict:
    return Conflict(
        f"Campaign {campaign_id} has no coupons left.", code="coupon-sold-out", title="Sold out"
    )


async def _take_stock(uow: UnitOfWork, campaign_id: int) -> bool:
    # The database's own guard: with it, no state of Redis can make the campaign over-issue.
    result: Any = await uow.session.execute(
        update(CouponCampaign)
        .where(CouponCampaign.id == campaign_id, CouponCampaign.issued < CouponCampaign.quantity)
        .values(issued=CouponCampaign.issued + 1),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount) == 1


async def _record(
    *,
    db: Database,
    counter: ClaimCounter,
    campaign: CouponCampaign,
    customer_id: int,
    take: Take,
) -> Claimed:
    now = utcnow()
    try:
        async with db.uow() as uow:
            if not await _take_stock(uow, campaign.id):
                await _compensate(counter, campaign.id, take, customer_id, restock=False)
                raise _sold_out(campaign.id)
            coupon = Coupon(
                campaign_id=campaign.id,
                customer_id=customer_id,
                status=CouponStatus.ISSUED.value,
                expires_at=now + timedelta(days=campaign.valid_days),
            )
            uow.session.add(coupon)
            await uow.session.flush()
            await uow.commit()
        return Claimed(coupon_view(coupon, campaign, now=now))
    except IntegrityError:
        # The database already holds this customer's coupon (the counter had forgotten it).
        await _compensate(counter, campaign.id, take, customer_id, restock=True, forget=False)
        raise _already_claimed(campaign.id) from None
    except SQLAlchemyError as error:
        log.warning("coupon insert failed (%s); parking the claim in the backlog", error)
    try:
        async with db.uow() as uow:
            if not await _take_stock(uow, campaign.id):
                await _compensate(counter, campaign.id, take, customer_id, restock=False)
                raise _sold_out(campaign.id)
            await uow.session.execute(
                insert_ignore(
                    CouponClaimBacklog,
                    campaign_id=campaign.id,
                    customer_id=customer_id,
                    claimed_at=now,
                )
            )
            await uow.commit()
        return Claimed(None)
    except SQLAlchemyError as error:
        await _compensate(counter, campaign.id, take, customer_id, restock=True)
        raise Unavailable("The claim could not be recorded; try again.") from error


async def _compensate(
    counter: ClaimCounter,
    campaign_id: int,
    take: Take,
    customer_id: int,
    *,
    restock: bool,
    forget: bool = True,
) -> None:
    try:
        await counter.give_back(campaign_id, take, customer_id, restock=restock, forget=forget)
    except (RedisError, OSError):
        # Left uncompensated the counter errs low (fewer coupons offered), never high; the
        # next rebuild takes the exact figures from the database.
        log.warning("could not compensate the claim step of campaign %s", campaign_id)


async def replay_backlog(*, db: Database, limit: int = 500) -> int:
    """Turn parked claims into coupons; idempotent, so replaying twice issues once."""
    async with db.uow() as uow:
        parked = list(
            await uow.session.scalars(
                select(CouponClaimBacklog).order_by(CouponClaimBacklog.id).limit(limit)
            )
        )
    replayed = 0
    for row in parked:
        async with db.uow() as uow:
            campaign = await uow.session.get(CouponCampaign, row.campaign_id)
            if campaign is None:
                continue
            # Writing the coupon and deleting the parked row commit together, and the unique
            # (campaign, customer) key makes a second replay of the same row a no-op.
            await uow.session.execute(
                insert_ignore(
                    Coupon,
                    campaign_id=row.campaign_id,
                    customer_id=row.customer_id,
                    status=CouponStatus.ISSUED.value,
                    expires_at=row.claimed_at + timedelta(days=campaign.valid_days),
                )
            )
            removed: Any = await uow.session.execute(
                delete(CouponClaimBacklog).where(CouponClaimBacklog.id == row.id),
                execution_options={"synchronize_session": False},
            )
            await uow.commit()
            replayed += int(removed.rowcount)
    return replayed


async def reconcile_counters(*, db: Database, counter: ClaimCounter) -> int:
    """Tighten the counters of running campaigns towards the database; returns how many."""
    now = utcnow()
    async with db.uow() as uow:
        running = list(
            await uow.session.scalars(
                select(CouponCampaign).where(
                    CouponCampaign.ends_at > now - COUNTER_GRACE, CouponCampaign.issued > 0
                )
            )
        )
    tightened = 0
    for campaign in running:
        left = campaign.quantity - campaign.issued
        marked, stock = await counter.sizes(campaign.id)
        if marked is None or (marked >= campaign.issued and stock <= left):
            continue  # not ready (the next claim rebuilds), or already at least as strict
        async with db.uow() as uow:
            holders = list(
                await uow.session.scalars(
                    select(Coupon.customer_id).where(Coupon.campaign_id == campaign.id)
                )
            )
        # Claims that commit after a rebuild read are missing from rebuilt counters; adding
        # them and lowering the stock can only make the counter stricter, so this is safe
        # while claims are in flight.
        if await counter.tighten(campaign.id, left=left, customers=holders):
            tightened += 1
    return tightened
