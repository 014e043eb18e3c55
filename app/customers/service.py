"""Address book and favourites use cases: a customer's own data, and no one else's."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update

from app.auth.models import User
from app.catalog.models import Store
from app.catalog.presenter import store_view
from app.catalog.schemas import StoreOut
from app.customers.models import Address, Favourite
from app.customers.presenter import address_view
from app.customers.schemas import (
    MAX_ADDRESSES,
    MAX_FAVOURITES,
    AddressCreate,
    AddressUpdate,
    SavedAddressOut,
)
from app.db import Database, UnitOfWork, retrying
from app.errors import Conflict, NotFound, ProblemCode, ValidationFailed

LIMIT_TITLE = "Limit reached"


async def _lock_customer(uow: UnitOfWork, customer_id: int) -> None:
    # Every write to one customer's address book or favourites holds the customer's row
    # first: two requests at once (on any nodes) take turns, so the count limits and the one
    # default hold whatever the concurrency.
    await uow.session.execute(select(User.id).where(User.id == customer_id).with_for_update())


async def _own_address(uow: UnitOfWork, customer_id: int, address_id: int) -> Address:
    address = await uow.session.get(Address, address_id)
    if address is None or address.customer_id != customer_id:
        raise NotFound(f"Address {address_id} does not exist.")
    return address


async def _clear_default(uow: UnitOfWork, customer_id: int) -> None:
    await uow.session.execute(
        update(Address)
        .where(Address.customer_id == customer_id, Address.is_default.is_(True))
        .values(is_default=None)
        .execution_options(synchronize_session="fetch")
    )


async def list_addresses(*, db: Database, customer_id: int) -> list[SavedAddressOut]:
    """The customer's addresses: the default first, then in the order they were added."""
    async with db.uow() as uow:
        rows = await uow.session.scalars(
            select(Address)
            .where(Address.customer_id == customer_id)
            .order_by(Address.is_default.is_(None), Address.id)
        )
        return [address_view(address) for address in rows]


async def add_address(*, db: Database, customer_id: int, data: AddressCreate) -> SavedAddressOut:
    """Save an address (at most `MAX_ADDRESSES`); the first one, or one sent with
    `default`, becomes the default."""

    async def attempt() -> SavedAddressOut:
        async with db.uow() as uow:
            await _lock_customer(uow, customer_id)
            count = await uow.session.scalar(
                select(func.count()).select_from(Address).where(Address.customer_id == customer_id)
            )
            if (count or 0) >= MAX_ADDRESSES:
                raise Conflict(
                    f"An address book holds at most {MAX_ADDRESSES} addresses; delete one "
                    "you no longer use first.",
                    code=ProblemCode.LIMIT_REACHED,
                    title=LIMIT_TITLE,
                )
            default = data.default or not count
            if default:
                await _clear_default(uow, customer_id)
            address = Address(
                customer_id=customer_id,
                label=data.label,
                text=data.text,
                lat=data.lat,
                lng=data.lng,
                rider_note=data.rider_note or None,
                is_default=True if default else None,
            )
            uow.session.add(address)
            await uow.flush()
            view = address_view(address)
            await uow.commit()
        return view

    return await retrying(attempt)


async def update_address(
    *, db: Database, customer_id: int, address_id: int, data: AddressUpdate
) -> SavedAddressOut:
    """Change the given fields; `default: true` moves the default here in one transaction."""

    async def attempt() -> SavedAddressOut:
        async with db.uow() as uow:
            await _lock_customer(uow, customer_id)
            address = await _own_address(uow, customer_id, address_id)
            changes = data.model_dump(exclude_none=True)
            default = changes.pop("default", None)
            if default is False and address.is_default:
                raise ValidationFailed(
                    "One address is always the default: make another address the default instead.",
                    errors=[
                        {
                            "field": "default",
                            "message": "Make another address the default instead.",
                            "type": "invalid",
                        }
                    ],
                )
            if "rider_note" in changes:
                changes["rider_note"] = changes["rider_note"] or None
            for name, value in changes.items():
                setattr(address, name, value)
            if default and not address.is_default:
                await _clear_default(uow, customer_id)
                address.is_default = True
            await uow.flush()
            view = address_view(address)
            await uow.commit()
        return view

    return await retrying(attempt)


async def delete_address(*, db: Database, customer_id: int, address_id: int) -> None:
    """Remove an address (orders placed with it keep their copy); when it was the default,
    the earliest added of the others becomes the default."""

    async def attempt() -> None:
        async with db.uow() as uow:
            await _lock_customer(uow, customer_id)
            address = await _own_address(uow, customer_id, address_id)
            was_default = bool(address.is_default)
            await uow.session.delete(address)
            await uow.flush()
            if was_default:
                successor = await uow.session.scalar(
                    select(Address)
                    .where(Address.customer_id == customer_id)
                    .order_by(Address.id)
                    .limit(1)
                )
                if successor is not None:
                    successor.is_default = True
            await uow.commit()

    await retrying(attempt)


async def saved_address(uow: UnitOfWork, *, customer_id: int, address_id: int) -> Address:
    """Step: the customer's own saved address, or 404 (another customer's is unknown)."""
    return await _own_address(uow, customer_id, address_id)


async def _store_exists(uow: UnitOfWork, store_id: int) -> None:
    if await uow.session.scalar(select(Store.id).where(Store.id == store_id)) is None:
        raise NotFound(f"Store {store_id} does not exist.")


async def add_favourite(*, db: Database, customer_id: int, store_id: int) -> None:
    """Mark a store as a favourite; marking it again changes nothing."""

    async def attempt() -> None:
        async with db.uow() as uow:
            await _store_exists(uow, store_id)
            await _lock_customer(uow, customer_id)
            held = await uow.session.scalar(
                select(Favourite.id).where(
                    Favourite.customer_id == customer_id, Favourite.store_id == store_id
                )
            )
            if held is not None:
                return
            count = await uow.session.scalar(
                select(func.count())
                .select_from(Favourite)
                .where(Favourite.customer_id == customer_id)
            )
            if (count or 0) >= MAX_FAVOURITES:
                raise Conflict(
                    f"At most {MAX_FAVOURITES} stores can be favourites; remove one first.",
                    code=ProblemCode.LIMIT_REACHED,
                    title=LIMIT_TITLE,
                )
            uow.session.add(Favourite(customer_id=customer_id, store_id=store_id))
            await uow.commit()

    await retrying(attempt)


async def remove_favourite(*, db: Database, customer_id: int, store_id: int) -> None:
    """Unmark a store; unmarking one that is not a favourite changes nothing."""
    async with db.uow() as uow:
        await _store_exists(uow, store_id)
        await uow.session.execute(
            delete(Favourite).where(
                Favourite.customer_id == customer_id, Favourite.store_id == store_id
            )
        )
        await uow.commit()


async def list_favourites(*, db: Database, customer_id: int) -> list[StoreOut]:
    """The customer's favourite stores, the most recently added first."""
    async with db.uow() as uow:
        stores = await uow.session.scalars(
            select(Store)
            .join(Favourite, Favourite.store_id == Store.id)
            .where(Favourite.customer_id == customer_id)
            .order_by(Favourite.id.desc())
        )
        return [store_view(store) for store in stores]
