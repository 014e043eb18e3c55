"""The PC web UI: pages for customers, store owners and riders."""

from quart import Quart


def register(app: Quart) -> None:
    """Mount the web pages."""
    from app.web.views import bp

    app.register_blueprint(bp)
