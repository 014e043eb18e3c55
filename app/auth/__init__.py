"""Accounts, sessions and the login guard."""

from quart import Quart


def register(app: Quart) -> None:
    """Mount the account endpoints."""
    from app.auth.views import bp

    app.register_blueprint(bp)
