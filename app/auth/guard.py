"""`login_required(role=...)`: who may call a view, and the CSRF rule for cookie sessions."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from quart import g, request

from app.auth.login import LoginMechanism, Principal
from app.auth.models import Role
from app.container import container
from app.errors import CsrfFailed, Forbidden, ProblemCode, Unauthenticated
from app.responses import declare_auth, declare_problems

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def current_principal() -> Principal | None:
    """The caller of this request (resolved once per request), or None."""
    if "principal" not in g:
        g.principal = await container().get(LoginMechanism).authenticate(request)
    principal: Principal | None = g.principal
    return principal


def check_csrf(principal: Principal) -> None:
    """Refuse a state-changing cookie-authenticated request without the session's token."""
    if request.method not in UNSAFE_METHODS or not principal.needs_csrf:
        return
    sent = request.headers.get("X-CSRF-Token", "")
    expected = principal.csrf_token or ""
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfFailed("Send the X-CSRF-Token header given at sign-in (see GET /api/me).")


def login_required(
    role: Role | tuple[Role, ...] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: require a signed-in caller (of `role`, if given); passes `principal=`."""
    roles = (role,) if isinstance(role, Role) else role

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = await current_principal()
            if principal is None:
                raise Unauthenticated("Sign in first.")
            check_csrf(principal)
            if roles is not None and principal.role not in roles:
                raise Forbidden(f"This needs the role {' or '.join(roles)}.")
            return await func(*args, principal=principal, **kwargs)

        declare_auth(wrapper, roles or ())
        # `csrf` applies to the writes only; the API description drops it from reads.
        refusals = [ProblemCode.UNAUTHENTICATED, ProblemCode.CSRF]
        declare_problems(wrapper, [*refusals, ProblemCode.FORBIDDEN] if roles else refusals)
        return wrapper

    return decorator
