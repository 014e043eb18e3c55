"""The payment interface and the sandbox card gateway."""

from quart import Quart

from app.payments.gateway import PaymentGateway


def register(app: Quart) -> None:
    """Open the sandbox card gateway (the default provider) while the app serves."""

    @app.before_serving
    async def _open_gateway() -> None:
        from app.db import Database
        from app.payments.sandbox import SandboxCardGateway

        resources = app.extensions["delivery"]
        settings = resources.settings
        # The gateway keeps its own books: in the embedded mode a SQLite file of its own, so
        # that an order's open transaction never waits on the gateway's writes.
        url = settings.database_url or (
            f"sqlite+aiosqlite:///{(settings.var_dir / 'sandbox-gateway.sqlite3').resolve()}"
        )
        gateway = SandboxCardGateway(Database(url), latency=settings.payment_latency_ms / 1000)
        await gateway.open()
        resources.extra["payments"] = gateway

    @app.after_serving
    async def _close_gateway() -> None:
        resources = app.extensions.get("delivery")
        if resources is not None and "payments" in resources.extra:
            await resources.extra.pop("payments").close()


def gateway() -> PaymentGateway:
    """The current app's payment gateway."""
    from app.resources import resources

    gw: PaymentGateway = resources().extra["payments"]
    return gw
