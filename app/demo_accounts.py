"""The demo city's sign-ins (one password for all), shown on the landing page when embedded."""

from __future__ import annotations

DEMO_PASSWORD = "demo-password-1234"
DEMO_USERS = [
    ("customer@demo.delivery", "Demo Customer", "customer"),
    ("owner@demo.delivery", "Demo Owner", "owner"),
    ("rider1@demo.delivery", "Demo Rider 1", "rider"),
    ("rider2@demo.delivery", "Demo Rider 2", "rider"),
    ("admin@demo.delivery", "Demo Admin", "admin"),
]
DEMO_OWNER = "owner@demo.delivery"
# A first-come coupon campaign the demo keeps running, for customers to claim at checkout.
DEMO_CAMPAIGN = "Demo welcome coupon"
DEMO_CAMPAIGN_DISCOUNT = 3000
DEMO_CAMPAIGN_MIN_ORDER = 15000


def demo_sign_ins() -> list[dict[str, str]]:
    """The demo accounts, as shown on the landing page in the embedded mode."""
    return [
        {"email": email, "password": DEMO_PASSWORD, "role": role, "name": name}
        for email, name, role in DEMO_USERS
    ]
