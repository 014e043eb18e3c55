"""Every table, imported in one place so that Alembic and tests see the whole schema."""

from app.auth.models import User
from app.db import Base
from app.outbox import OutboxEvent, StreamHead

__all__ = ["Base", "OutboxEvent", "StreamHead", "User"]
