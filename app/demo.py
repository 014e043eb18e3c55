"""`delivery demo`: the demo city around Seoul City Hall and its sign-ins."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import timedelta

from sqlalchemy import func, select

from app.auth.models import Role, User
from app.auth.passwords import Passwords
from app.auth.service import sign_up
from app.bootstrap import open_catalog, open_platform
from app.catalog.artwork import dish_picture, store_banner
from app.catalog.cache import CatalogCache
from app.catalog.demo_city import DemoStore, demo_city
from app.catalog.models import MenuItem, Store
from app.catalog.schemas import ItemCreate, OptionIn, StoreCreate, StoreUpdate
from app.catalog.service import (
    add_item,
    create_store,
    set_item_image,
    set_store_image,
    update_store,
)
from app.config import Settings
from app.container import Container
from app.db import utcnow
from app.demo_accounts import (
    DEMO_CAMPAIGN,
    DEMO_CAMPAIGN_DISCOUNT,
    DEMO_CAMPAIGN_MIN_ORDER,
    DEMO_OWNER,
    DEMO_PASSWORD,
    DEMO_USERS,
)
from app.rewards.counter import ClaimCounter
from app.rewards.coupons import create_campaign
from app.rewards.models import CouponCampaign
from app.storage import Storage

# The demo campaign: plenty of coupons, running for a year from when it is (re)made.
CAMPAIGN_QUANTITY = 1000
CAMPAIGN_RUNS = timedelta(days=365)


async def _accounts(services: Container) -> dict[str, int]:
    async with services.db.uow() as uow:
        rows = await uow.session.execute(
            select(User.email, User.id).where(User.email.in_([u[0] for u in DEMO_USERS]))
        )
        existing: dict[str, int] = {email: user_id for email, user_id in rows}
    for index, (email, name, role) in enumerate(DEMO_USERS, 1):
        print(f"[{index}/{len(DEMO_USERS)}] account {email}", flush=True)
        if email not in existing:
            user = await sign_up(
                db=services.db,
                passwords=services.get(Passwords),
                email=email,
                password=DEMO_PASSWORD,
                name=name,
                role=Role(role),
            )
            existing[email] = user.id
    return existing


async def _store_count(services: Container, owner_id: int | None) -> int:
    if owner_id is None:
        return 0
    async with services.db.uow() as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(Store).where(Store.owner_id == owner_id)
        )
    return int(count or 0)


async def _load_store(
    services: Container, cache: CatalogCache, storage: Storage, owner_id: int, plan: DemoStore
) -> int:
    """Create the store (or finish one an interrupted run left); how many items were added."""
    db = services.db
    async with db.uow() as uow:
        store = await uow.session.scalar(
            select(Store).where(Store.owner_id == owner_id, Store.name == plan.name)
        )
        have = set(
            await uow.session.scalars(
                select(MenuItem.name).where(
                    MenuItem.store_id == (store.id if store else -1),
                    MenuItem.deleted_at.is_(None),
                )
            )
        )
    if store is None:
        fields = StoreCreate(
            name=plan.name,
            category=plan.category,
            address=plan.address,
            lat=plan.lat,
            lng=plan.lng,
            phone=plan.phone,
            min_order=plan.min_order,
            delivery_fee=plan.delivery_fee,
        )
        store = await create_store(db=db, cache=cache, owner_id=owner_id, data=fields)
    if store.image_key is None:
        banner = store_banner(plan.name, plan.category, seed=store.id)
        await set_store_image(
            db=db,
            cache=cache,
            storage=storage,
            owner_id=owner_id,
            store_id=store.id,
            image=banner,
        )
    added = 0
    for item in plan.items:
        if item.name in have:
            continue
        data = ItemCreate(
            name=item.name,
            price=item.price,
            group=item.group,
            description=item.description,
            options=[OptionIn(name=n, price=p) for n, p in item.options],
        )
        created = await add_item(
            db=db, cache=cache, owner_id=owner_id, store_id=store.id, data=data
        )
        picture = dish_picture(item.name, plan.category, seed=created.id)
        await set_item_image(
            db=db,
            cache=cache,
            storage=storage,
            owner_id=owner_id,
            item_id=created.id,
            image=picture,
        )
        added += 1
    if not store.open:
        await update_store(
            db=db,
            cache=cache,
            owner_id=owner_id,
            store_id=store.id,
            data=StoreUpdate(open=True),
        )
    return added


async def _campaign(services: Container) -> None:
    """The running demo campaign with coupons left, made anew when there is none."""
    now = utcnow()
    async with services.db.uow() as uow:
        running = await uow.session.scalar(
            select(CouponCampaign)
            .where(
                CouponCampaign.name == DEMO_CAMPAIGN,
                CouponCampaign.starts_at <= now,
                CouponCampaign.ends_at > now + timedelta(days=1),
                CouponCampaign.issued < CouponCampaign.quantity,
            )
            .order_by(CouponCampaign.id.desc())
            .limit(1)
        )
    if running is not None:
        print(f"campaign {DEMO_CAMPAIGN!r}: already running", flush=True)
        return
    made = await create_campaign(
        db=services.db,
        counter=ClaimCounter(services.cache_redis),
        name=DEMO_CAMPAIGN,
        discount=DEMO_CAMPAIGN_DISCOUNT,
        min_order=DEMO_CAMPAIGN_MIN_ORDER,
        quantity=CAMPAIGN_QUANTITY,
        starts_at=now - timedelta(minutes=1),
        ends_at=now + CAMPAIGN_RUNS,
        valid_days=30,
    )
    print(f"campaign {DEMO_CAMPAIGN!r}: created (id {made.id})", flush=True)


def _print_sign_ins() -> None:
    print(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
    for email, _, role in DEMO_USERS:
        print(f"  {role:<9} {email}")
    admin = next(email for email, _, role in DEMO_USERS if role == "admin")
    print(
        f"The admin runs the platform from the operations console at /admin (sign in as {admin})."
    )
    print(
        f"Coupon campaign {DEMO_CAMPAIGN!r}: {DEMO_CAMPAIGN_DISCOUNT:,} won off orders from "
        f"{DEMO_CAMPAIGN_MIN_ORDER:,} won; claim it on the customer's Points & coupons page."
    )
    print(
        "Try several roles at once with one browser profile (or private window) per role: "
        "a browser keeps one sign-in per profile."
    )


async def load_demo(settings: Settings, *, only_if_empty: bool = False) -> int:
    """Create the demo accounts, the demo city and the demo coupon campaign (idempotently);
    print the sign-ins."""
    city = demo_city()
    async with AsyncExitStack() as stack:
        services = await open_platform(settings, stack)
        async with services.db.uow() as uow:
            owner_id = await uow.session.scalar(select(User.id).where(User.email == DEMO_OWNER))
        loaded = only_if_empty and await _store_count(services, owner_id) >= len(city)
        # Cheap and idempotent, so done every time: an older demo gains what it lacks.
        accounts = await _accounts(services)
        await _campaign(services)
        if loaded:
            print("demo city already loaded")
        else:
            await open_catalog(services, stack)
            cache, storage = services.get(CatalogCache), services.get(Storage)
            for index, plan in enumerate(city, 1):
                added = await _load_store(services, cache, storage, accounts[DEMO_OWNER], plan)
                note = f"{added} items added" if added else "already there"
                print(
                    f"[store {index}/{len(city)}] {plan.name} ({plan.category}): {note}",
                    flush=True,
                )
            categories = len({plan.category for plan in city})
            print(
                f"\nDemo city: {len(city)} stores in {categories} categories around Seoul City Hall."
            )
    _print_sign_ins()
    return 0
