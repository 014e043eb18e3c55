"""`delivery demo`: the demo city and its sign-ins."""

from __future__ import annotations

from sqlalchemy import select

from app import open_resources
from app.auth.models import User
from app.auth.service import sign_up
from app.config import Settings

DEMO_PASSWORD = "demo-password-1234"
DEMO_USERS = [
    ("customer@demo.delivery", "Demo Customer", "customer"),
    ("owner@demo.delivery", "Demo Owner", "owner"),
    ("rider1@demo.delivery", "Demo Rider 1", "rider"),
    ("rider2@demo.delivery", "Demo Rider 2", "rider"),
]


def demo_sign_ins() -> list[dict[str, str]]:
    """The demo accounts, as shown on the landing page in the embedded mode."""
    return [
        {"email": email, "password": DEMO_PASSWORD, "role": role, "name": name}
        for email, name, role in DEMO_USERS
    ]


async def load_demo(settings: Settings, *, only_if_empty: bool = False) -> int:
    """Create the demo accounts (and, once the catalog exists, the city); print the sign-ins."""
    resources = await open_resources(settings)
    try:
        async with resources.db.uow() as uow:
            existing = set(
                await uow.session.scalars(
                    select(User.email).where(User.email.in_([u[0] for u in DEMO_USERS]))
                )
            )
        if only_if_empty and existing:
            print("demo data already loaded")
            return 0
        for index, (email, name, role) in enumerate(DEMO_USERS, 1):
            print(f"[{index}/{len(DEMO_USERS)}] account {email}", flush=True)
            if email not in existing:
                await sign_up(
                    uow=resources.db.uow(),
                    passwords=resources.passwords,
                    email=email,
                    password=DEMO_PASSWORD,
                    name=name,
                    role=role,
                )
    finally:
        await resources.close()
    print(f"\nDemo sign-ins (password for all: {DEMO_PASSWORD}):")
    for email, _, role in DEMO_USERS:
        print(f"  {role:<9} {email}")
    return 0
