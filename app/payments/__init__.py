"""The payment interface and the sandbox card gateway."""

from quart import Quart


def register(app: Quart) -> None:
    """Nothing to mount: payments are used by orders."""
