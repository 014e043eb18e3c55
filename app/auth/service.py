"""Account use cases: sign up, verify a login, create an admin."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.auth.models import Role, User
from app.auth.passwords import Passwords
from app.db import Database
from app.errors import Conflict, Forbidden, ProblemCode, Unauthenticated


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively."""
    return email.strip().lower()


async def sign_up(
    *, db: Database, passwords: Passwords, email: str, password: str, name: str, role: Role
) -> User:
    """Create an account; 409 `email-taken` if the email is in use."""
    email = normalize_email(email)
    password_hash = await passwords.hash(password)
    async with db.uow() as uow:
        taken = await uow.session.scalar(select(User.id).where(User.email == email))
        if taken is not None:
            raise Conflict(
                f"{email} already has an account.", code="email-taken", title="Email taken"
            )
        user = User(email=email, password_hash=password_hash, name=name, role=role)
        uow.session.add(user)
        try:
            await uow.session.flush()
            await uow.commit()
        except IntegrityError:
            # Two sign-ups with one email raced past the check; the unique index decided.
            raise Conflict(
                f"{email} already has an account.", code="email-taken", title="Email taken"
            ) from None
    return user


async def verify_login(*, db: Database, passwords: Passwords, email: str, password: str) -> User:
    """The user whose credentials these are; 401 otherwise (same answer for either mistake)."""
    email = normalize_email(email)
    async with db.uow() as uow:
        user = await uow.session.scalar(select(User).where(User.email == email))
    if not await passwords.verify(user.password_hash if user else None, password) or user is None:
        raise Unauthenticated("Wrong email or password.", title="Sign-in failed")
    # Told only to whoever knows the password: a stranger learns nothing of the account.
    if user.suspended:
        raise suspended_account()
    return user


def suspended_account() -> Forbidden:
    """403 `account-suspended`: the answer to a suspended account's sign-in."""
    return Forbidden(
        "This account is suspended. Contact the platform's support to have it restored.",
        code=ProblemCode.ACCOUNT_SUSPENDED,
        title="Account suspended",
    )


async def is_suspended(*, db: Database, user_id: int) -> bool:
    """Whether the account is suspended now (a missing one counts as suspended)."""
    async with db.uow() as uow:
        flag = await uow.session.scalar(select(User.suspended).where(User.id == user_id))
    return flag is None or bool(flag)


async def get_user(*, db: Database, user_id: int) -> User | None:
    """The user with this id, or None."""
    async with db.uow() as uow:
        return await uow.session.get(User, user_id)


async def ensure_admin(
    *, db: Database, passwords: Passwords, email: str, password: str, name: str = "Administrator"
) -> tuple[User, bool]:
    """Create the admin `email` unless an account exists; returns (user, created)."""
    email = normalize_email(email)
    async with db.uow() as uow:
        existing = await uow.session.scalar(select(User).where(User.email == email))
    if existing is not None:
        return existing, False
    user = await sign_up(
        db=db, passwords=passwords, email=email, password=password, name=name, role=Role.ADMIN
    )
    return user, True
