"""Argon2id password hashing, off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    """Hashes and verifies passwords with Argon2id in a worker thread (it is CPU-bound)."""

    def __init__(self, *, time_cost: int = 2, memory_kib: int = 19456) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID
        )
        # Verifying against this keeps unknown-email logins as slow as known ones.
        self._dummy = self._hasher.hash("not-a-real-password-just-timing")

    async def hash(self, password: str) -> str:
        """Hash a new password."""
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, hashed: str | None, password: str) -> bool:
        """True when `password` matches `hashed` (a None hash still costs a verification)."""

        def _verify() -> bool:
            try:
                return self._hasher.verify(hashed or self._dummy, password) and hashed is not None
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(_verify)
