"""HTTP for accounts: sign-up, sign-in, sign-out and the session (docs/api.md)."""

from __future__ import annotations

from quart import Blueprint, Response, request
from quart_schema import tag

from app.auth import service
from app.auth.guard import login_required
from app.auth.login import COOKIE_NAME, LoginMechanism, Principal
from app.auth.models import Role, User
from app.auth.passwords import Passwords
from app.auth.presenter import user_view
from app.auth.schemas import LoginRequest, SessionOut, SignupOut, SignupRequest, UserOut
from app.auth.sessions import SessionStore
from app.auth.throttle import LoginThrottle
from app.container import container
from app.errors import ProblemCode, Unauthenticated
from app.ratelimit import RateLimiter
from app.responses import no_content, problems, returns
from app.validation import body

bp = Blueprint("auth", __name__)

SESSION_COOKIE = {
    "Set-Cookie": f"The session: `{COOKIE_NAME}`, an opaque id; HttpOnly, SameSite=Lax, "
    "Secure over HTTPS."
}


def _session(user: User, principal: Principal) -> SessionOut:
    # Every session that signs in over HTTP carries a CSRF token (only sockets lack one).
    assert principal.csrf_token is not None
    return SessionOut(user=user_view(user), csrf_token=principal.csrf_token)


def client_address() -> str:
    """The caller's address (the proxy's view of it when behind nginx)."""
    return request.remote_addr or "unknown"


@bp.post("/api/auth/signup")
@tag(["accounts"])
@returns(SignupOut, 201)
@problems(ProblemCode.EMAIL_TAKEN, ProblemCode.RATE_LIMITED)
@body(SignupRequest)
async def signup(data: SignupRequest) -> SignupOut:
    """Create a customer, owner or rider account."""
    res = container()
    s = res.settings
    await res.get(RateLimiter).hit(
        f"signup:ip:{client_address()}",
        limit=s.signup_max_per_address,
        window=s.signup_window_seconds,
    )
    user = await service.sign_up(
        db=res.db,
        passwords=res.get(Passwords),
        email=data.email,
        password=data.password,
        name=data.name,
        role=Role(data.role),
    )
    return SignupOut(user=user_view(user))


@bp.post("/api/auth/login")
@tag(["accounts"])
@returns(SessionOut, headers=SESSION_COOKIE)
@problems(ProblemCode.UNAUTHENTICATED, ProblemCode.ACCOUNT_SUSPENDED, ProblemCode.RATE_LIMITED)
@body(LoginRequest)
async def login(data: LoginRequest) -> Response:
    """Sign in: a new session cookie (ending the one sent, if any) and the CSRF token."""
    res = container()
    email = service.normalize_email(data.email)
    throttle = res.get(LoginThrottle)
    attempt = await throttle.admit(email=email, address=client_address())
    user = await service.verify_login(
        db=res.db, passwords=res.get(Passwords), email=email, password=data.password
    )
    await throttle.succeeded(attempt)
    response = Response(status=200, mimetype="application/json")
    principal = await res.get(LoginMechanism).start(
        response, user_id=user.id, role=Role(user.role), email=user.email, name=user.name
    )
    # A suspension that committed after the password was checked may have swept the user's
    # sessions before this one existed: asked again now, it cannot miss this one.
    if await service.is_suspended(db=res.db, user_id=user.id):
        if principal.session_id:
            await res.get(SessionStore).destroy(principal.session_id)
        raise service.suspended_account()
    response.set_data(_session(user, principal).model_dump_json())
    return response


@bp.post("/api/auth/logout")
@tag(["accounts"])
@no_content
@login_required()
async def logout(principal: Principal) -> Response:
    """End this session on every node at once."""
    response = Response(status=204)
    await container().get(LoginMechanism).end(response, principal)
    return response


@bp.get("/api/me")
@tag(["accounts"])
@returns(SessionOut)
@login_required()
async def me(principal: Principal) -> SessionOut:
    """The signed-in user and the session's CSRF token."""
    assert principal.csrf_token is not None
    if principal.email is not None and principal.name is not None:
        # Kept in the session at sign-in: a page load asks this often, and it costs the
        # session lookup alone.
        known = UserOut(
            id=principal.user_id, email=principal.email, name=principal.name, role=principal.role
        )
        return SessionOut(user=known, csrf_token=principal.csrf_token)
    res = container()
    user = await service.get_user(db=res.db, user_id=principal.user_id)
    if user is None:
        raise Unauthenticated("This account no longer exists.")
    return _session(user, principal)
