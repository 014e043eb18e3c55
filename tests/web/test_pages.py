"""The web UI's pages: who may open which, and what the landing page offers."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.demo import DEMO_PASSWORD
from tests.client import Api
from tests.embedded import embedded_app
from tests.orders.helpers import open_shop

ROLE_PAGES = {
    "customer": [
        "/customer",
        "/customer/stores/1",
        "/customer/checkout",
        "/customer/orders",
        "/customer/orders/1",
        "/customer/rewards",
    ],
    "owner": ["/owner", "/owner/stores/1", "/owner/stores/1/board"],
    "rider": ["/rider"],
}


async def test_anonymous_visitor_is_sent_to_sign_in_with_the_page_to_return_to(api: Api) -> None:
    for path in [p for pages in ROLE_PAGES.values() for p in pages]:
        response = await api.get(path)
        assert response.status_code == 302, path
        assert response.headers["location"] == f"/?next={path}"
    # The query comes back too, encoded so that it stays one parameter.
    response = await api.get("/customer/orders?page=2&sort=new")
    assert response.headers["location"] == "/?next=/customer/orders%3Fpage%3D2%26sort%3Dnew"


async def test_landing_page_offers_sign_in_and_sign_up_with_a_role_choice(api: Api) -> None:
    response = await api.get("/")
    assert response.status_code == 200
    page = response.text
    assert 'id="signin-form"' in page and 'id="signup-form"' in page
    for role in ("customer", "owner", "rider"):
        assert f'name="role" value="{role}"' in page
    # Demo sign-ins belong to the embedded demo only, never to a deployment on real services.
    assert DEMO_PASSWORD not in page


@pytest.mark.parametrize("role", ["customer", "owner", "rider"])
async def test_each_role_opens_its_own_pages_and_is_sent_home_from_others(
    api: Api, role: str
) -> None:
    await api.sign_in_as(role)
    home = ROLE_PAGES[role][0]
    assert (await api.get("/")).headers["location"] == home
    # An owner's store pages are for a store of theirs.
    store_id = (await open_shop(api)).id if role == "owner" else 1
    for other, pages in ROLE_PAGES.items():
        for path in pages:
            if other == "owner":
                path = path.replace("/stores/1", f"/stores/{store_id}")
            response = await api.get(path)
            if other == role:
                assert response.status_code == 200, path
                assert 'src="/static/js/pages/' in response.text
            else:
                assert response.status_code == 302 and response.headers["location"] == home


async def test_embedded_landing_page_lists_the_demo_sign_ins(tmp_path: Path) -> None:
    async with embedded_app(tmp_path) as embedded, embedded.client() as http:
        page = (await http.get("/")).text
    assert "Demo sign-ins" in page and DEMO_PASSWORD in page
    assert "owner@demo.delivery" in page and "rider1@demo.delivery" in page
    assert "admin@demo.delivery" in page
    # How to be several people at once: one browser profile (or private window) per role.
    assert "browser profile or private window" in page


async def test_page_scripts_and_styles_are_served(api: Api) -> None:
    for path in ("/static/js/api.js", "/static/js/pages/home.js", "/static/css/app.css"):
        response = await api.get(path)
        assert response.status_code == 200, path
