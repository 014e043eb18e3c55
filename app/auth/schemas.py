"""Request and response shapes of accounts."""

from __future__ import annotations

from typing import Literal

from pydantic import EmailStr, Field, field_validator

from app.auth.models import Role
from app.config import MAX_PASSWORD, MIN_DISTINCT_CHARACTERS, MIN_PASSWORD
from app.responses import Out
from app.validation import Schema


class SignupRequest(Schema):
    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)
    name: str = Field(min_length=1, max_length=100)
    role: Literal["customer", "owner", "rider"]

    @field_validator("password")
    @classmethod
    def _not_trivial(cls, value: str) -> str:
        if len(set(value)) < MIN_DISTINCT_CHARACTERS:
            raise ValueError("is too easy to guess (use more different characters)")
        return value


class LoginRequest(Schema):
    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=1, max_length=256)


class UserOut(Out):
    """A user account."""

    id: int
    email: str
    name: str
    role: Role


class SignupOut(Out):
    """The account just created (not signed in yet)."""

    user: UserOut


class SessionOut(Out):
    """The signed-in user and the token to send as `X-CSRF-Token` with every write."""

    user: UserOut
    csrf_token: str
