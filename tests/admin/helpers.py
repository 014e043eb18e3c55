"""Building blocks for the console's tests: an admin, a kitchen, riders, the audit log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app import DeliveryApp
from tests.client import Api
from tests.conftest import AppPool
from tests.dispatch.helpers import Kitchen, go_on_shift, kitchen
from tests.harness import Infra
from tests.rewards.helpers import sign_in_admin


@dataclass
class Console:
    """An admin, a store with its owner and a customer, all on one app."""

    admin: Api
    kitchen: Kitchen
    apps: AppPool
    app: DeliveryApp

    async def rider(self, km_north: float = 0.5) -> Api:
        """A new rider on shift near the store."""
        rider = await self.apps.client(self.app)
        await rider.sign_in_as("rider")
        await go_on_shift(rider, km_north)
        return rider

    async def person(self, role: str) -> Api:
        """A new signed-in account of `role`."""
        api = await self.apps.client(self.app)
        await api.sign_in_as(role)
        return api


async def console(apps: AppPool, app: DeliveryApp) -> Console:
    """Sign in an admin, and open the test store with its owner and a customer."""
    admin = await sign_in_admin(apps, app)
    shop = await kitchen(await apps.client(app), await apps.client(app))
    return Console(admin=admin, kitchen=shop, apps=apps, app=app)


def uid(api: Api) -> int:
    """The id of the account an API client is signed in as."""
    assert api.user is not None
    return int(api.user["id"])


def audit_rows(infra: Infra) -> list[tuple[str, str, int, dict[str, Any]]]:
    """The audit log as (action, target_type, target_id, details), oldest first."""
    rows = infra.query(
        "SELECT action, target_type, target_id, details FROM admin_audit ORDER BY id"
    )
    return [
        (str(action), str(kind), int(str(target)), json.loads(str(details)))
        for action, kind, target, details in rows
    ]
