"""Accounts as the API shows them."""

from __future__ import annotations

from app.auth.models import Role, User
from app.auth.schemas import UserOut


def user_view(user: User) -> UserOut:
    """The API's `user`."""
    return UserOut(id=user.id, email=user.email, name=user.name, role=Role(user.role))
