"""HTTP for the caller's address book and favourite stores (docs/api.md)."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import tag

from app.auth.guard import login_required
from app.auth.login import Principal
from app.auth.models import Role
from app.container import container
from app.customers import service
from app.customers.schemas import (
    AddressCreate,
    AddressListOut,
    AddressUpdate,
    FavouriteListOut,
    SavedAddressOut,
)
from app.errors import ProblemCode
from app.responses import no_content, problems, returns
from app.validation import body

bp = Blueprint("customers", __name__)


@bp.get("/api/me/addresses")
@tag(["addresses"])
@returns(AddressListOut)
@login_required(role=Role.CUSTOMER)
async def list_addresses(principal: Principal) -> AddressListOut:
    """The caller's saved addresses, the default first."""
    found = await service.list_addresses(db=container().db, customer_id=principal.user_id)
    return AddressListOut(addresses=found)


@bp.post("/api/me/addresses")
@tag(["addresses"])
@returns(SavedAddressOut, 201)
@problems(ProblemCode.LIMIT_REACHED)
@login_required(role=Role.CUSTOMER)
@body(AddressCreate)
async def add_address(principal: Principal, data: AddressCreate) -> tuple[SavedAddressOut, int]:
    """Save an address (at most 20); the first one is the default."""
    saved = await service.add_address(db=container().db, customer_id=principal.user_id, data=data)
    return saved, 201


@bp.patch("/api/me/addresses/<int:address_id>")
@tag(["addresses"])
@returns(SavedAddressOut)
@problems(ProblemCode.NOT_FOUND)
@login_required(role=Role.CUSTOMER)
@body(AddressUpdate)
async def update_address(
    principal: Principal, address_id: int, data: AddressUpdate
) -> SavedAddressOut:
    """Change an address's fields; `default: true` makes it the default."""
    return await service.update_address(
        db=container().db, customer_id=principal.user_id, address_id=address_id, data=data
    )


@bp.delete("/api/me/addresses/<int:address_id>")
@tag(["addresses"])
@no_content
@problems(ProblemCode.NOT_FOUND)
@login_required(role=Role.CUSTOMER)
async def delete_address(principal: Principal, address_id: int) -> Response:
    """Delete an address; orders placed with it keep their copy."""
    await service.delete_address(
        db=container().db, customer_id=principal.user_id, address_id=address_id
    )
    return Response(status=204)


@bp.get("/api/me/favourites")
@tag(["favourites"])
@returns(FavouriteListOut)
@login_required(role=Role.CUSTOMER)
async def list_favourites(principal: Principal) -> FavouriteListOut:
    """The caller's favourite stores, the most recently added first."""
    stores = await service.list_favourites(db=container().db, customer_id=principal.user_id)
    return FavouriteListOut(stores=stores)


@bp.put("/api/me/favourites/<int:store_id>")
@tag(["favourites"])
@no_content
@problems(ProblemCode.NOT_FOUND, ProblemCode.LIMIT_REACHED)
@login_required(role=Role.CUSTOMER)
async def add_favourite(principal: Principal, store_id: int) -> Response:
    """Mark a store as a favourite (again: no change)."""
    await service.add_favourite(db=container().db, customer_id=principal.user_id, store_id=store_id)
    return Response(status=204)


@bp.delete("/api/me/favourites/<int:store_id>")
@tag(["favourites"])
@no_content
@problems(ProblemCode.NOT_FOUND)
@login_required(role=Role.CUSTOMER)
async def remove_favourite(principal: Principal, store_id: int) -> Response:
    """Unmark a favourite store (one that is not a favourite: no change)."""
    await service.remove_favourite(
        db=container().db, customer_id=principal.user_id, store_id=store_id
    )
    return Response(status=204)
