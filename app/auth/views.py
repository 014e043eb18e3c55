"""HTTP for accounts (CONTRACT §2)."""

from __future__ import annotations

from quart import Blueprint, Response, json, jsonify, request
from quart_schema import tag

from app.auth import service
from app.auth.guard import login_required
from app.auth.login import LoginMechanism, Principal
from app.auth.models import Role
from app.auth.passwords import Passwords
from app.auth.schemas import LoginRequest, SignupRequest
from app.container import container
from app.errors import Unauthenticated
from app.ratelimit import RateLimiter
from app.validation import body

bp = Blueprint("auth", __name__)


def client_address() -> str:
    """The caller's address (the proxy's view of it when behind nginx)."""
    return request.remote_addr or "unknown"


@bp.post("/api/auth/signup")
@tag(["accounts"])
@body(SignupRequest)
async def signup(data: SignupRequest) -> tuple[Response, int]:
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
    return jsonify({"user": user.public()}), 201


@bp.post("/api/auth/login")
@tag(["accounts"])
@body(LoginRequest)
async def login(data: LoginRequest) -> Response:
    """Sign in; sets the session cookie and returns the CSRF token."""
    res = container()
    s = res.settings
    email = service.normalize_email(data.email)
    account_key = f"login:fail:{email}"
    await res.get(RateLimiter).hit(
        f"login:ip:{client_address()}",
        limit=s.login_max_attempts_per_address,
        window=s.login_window_seconds,
    )
    await res.get(RateLimiter).check(account_key, limit=s.login_max_failures_per_account)
    try:
        user = await service.verify_login(
            db=res.db, passwords=res.get(Passwords), email=email, password=data.password
        )
    except Unauthenticated:
        await res.get(RateLimiter).hit(
            account_key, limit=s.login_max_failures_per_account, window=s.login_window_seconds
        )
        raise
    await res.get(RateLimiter).reset(account_key)
    response = Response(status=200, mimetype="application/json")
    principal = await res.get(LoginMechanism).start(response, user_id=user.id, role=Role(user.role))
    response.set_data(json.dumps({"user": user.public(), "csrf_token": principal.csrf_token}))
    return response


@bp.post("/api/auth/logout")
@tag(["accounts"])
@login_required()
async def logout(principal: Principal) -> Response:
    """End this session on every node at once."""
    response = Response(status=204)
    await container().get(LoginMechanism).end(response, principal)
    return response


@bp.get("/api/me")
@tag(["accounts"])
@login_required()
async def me(principal: Principal) -> Response:
    """The signed-in user and the session's CSRF token."""
    res = container()
    user = await service.get_user(db=res.db, user_id=principal.user_id)
    if user is None:
        raise Unauthenticated("This account no longer exists.")
    return jsonify({"user": user.public(), "csrf_token": principal.csrf_token})
