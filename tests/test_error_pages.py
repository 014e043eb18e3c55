"""Pages for people where a browser asks for a page: 404 for none, 403 for another's store;
the API answers problem+json whatever the Accept."""

from __future__ import annotations

import pytest

from tests.client import Api, assert_problem
from tests.orders.helpers import open_shop

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(
    "path", ["/nope", "/customer/nope", "/owner/x/y", "/customer/orders/9" * 3]
)
async def test_a_browser_asking_for_a_page_that_is_not_there_gets_a_page(
    api: Api, path: str
) -> None:
    response = await api.get(path, headers=BROWSER)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in response.text
    assert "Go to the start page" in response.text


@pytest.mark.parametrize("accept", ["*/*", "application/json", "application/problem+json"])
async def test_other_clients_get_the_problem_for_a_missing_path(api: Api, accept: str) -> None:
    assert_problem(await api.get("/nope", headers={"Accept": accept}), 404, "not-found")


@pytest.mark.parametrize("path", ["/api/nope", "/api/orders/0", "/api"])
async def test_the_api_answers_problem_json_even_to_a_browser(api: Api, path: str) -> None:
    assert_problem(await api.get(path, headers=BROWSER), 404, "not-found")


async def test_a_signed_in_person_gets_the_way_back_home(api: Api) -> None:
    await api.sign_in_as("customer")
    response = await api.get("/customer/nope", headers=BROWSER)
    assert response.status_code == 404
    assert 'href="/customer"' in response.text and "Back to your home page" in response.text


async def test_another_owners_store_pages_say_the_store_is_not_theirs(api_factory) -> None:  # type: ignore[no-untyped-def]
    owner, other = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await other.sign_in_as("owner")
    shop = await open_shop(owner)
    for path in (f"/owner/stores/{shop.id}", f"/owner/stores/{shop.id}/board"):
        mine = await owner.get(path, headers=BROWSER)
        assert mine.status_code == 200 and "This store is not yours" not in mine.text
        theirs = await other.get(path, headers=BROWSER)
        assert theirs.status_code == 403, path
        assert theirs.headers["content-type"].startswith("text/html")
        assert "<h1>This store is not yours</h1>" in theirs.text
        gone = await other.get(path.replace(str(shop.id), str(shop.id + 1000)), headers=BROWSER)
        assert gone.status_code == 404 and "<h1>Page not found</h1>" in gone.text
