"""Sign-in limits: guesses are counted before any password is checked, per account and address.

Counting first, with one atomic increment, is what bounds a burst: thirty guesses sent at once
each take a number, and only those within the limit reach the (slow) password check. The lock
is per account *and* address, so failures from elsewhere never lock the owner out; the
per-account count only narrows every address to a single try once an account is under attack
from many, which a correct password from a fresh address still passes.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.config import Settings
from app.errors import RateLimited
from app.ratelimit import RateLimiter


@dataclass(frozen=True)
class LoginAttempt:
    """The counters one admitted attempt holds a place in."""

    pair: str
    account: str


class LoginThrottle:
    """Admits or refuses a sign-in attempt before the password is verified."""

    def __init__(self, limiter: RateLimiter, settings: Settings) -> None:
        self._limiter = limiter
        self._settings = settings

    async def admit(self, *, email: str, address: str) -> LoginAttempt:
        """Take a place for this attempt, or raise `RateLimited` (429 with Retry-After)."""
        s = self._settings
        window = s.login_window_seconds
        await self._limiter.hit(
            f"login:ip:{address}", limit=s.login_max_attempts_per_address, window=window
        )
        attempt = LoginAttempt(pair=f"login:pair:{email}|{address}", account=f"login:acct:{email}")
        tries, retry_after = await self._limiter.count(attempt.pair, window=window)
        if tries > s.login_max_failures_per_account_address:
            raise RateLimited(retry_after)
        failures, _ = await self._limiter.count(attempt.account, window=window)
        if failures > s.login_max_failures_per_account and tries > 1:
            await self._limiter.refund(attempt.account)
            raise RateLimited(retry_after)
        return attempt

    async def succeeded(self, attempt: LoginAttempt) -> None:
        """The password was right: the attempt's places are given back (only failures count)."""
        await self._limiter.refund(attempt.pair)
        await self._limiter.refund(attempt.account)
