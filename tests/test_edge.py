"""The edge, attacked as it would be: forged client addresses, sign-in guesses and headers.

Two real nodes behind real nginx, which connects to them from 127.0.0.2 (as in `delivery
cluster`), the only address the nodes believe about who the client is. A test acts as several
clients by connecting to nginx from other loopback addresses (127.0.0.3, …), which nginx sees
and forwards as they are.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.launcher.cluster import PROXY_ADDRESS, PROXY_TRUST
from app.launcher.nginx import Nginx
from app.launcher.nodes import Node
from app.security_headers import SECURITY_HEADERS
from tests.client import DEFAULT_PASSWORD, Api, assert_problem, unique_email
from tests.harness import Infra, require_binary

# `clients(base_url, from_address)`
ClientMaker = Callable[..., Api]
SIGNUP_LIMIT = 20
PAIR_LIMIT = 5
ACCOUNT_LIMIT = 8


@dataclass
class Edge:
    """Two nodes and nginx in front of them."""

    nodes: list[Node]
    nginx: Nginx

    @property
    def url(self) -> str:
        return self.nginx.url


@pytest.fixture(scope="module")
def edge(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    """Nodes with the production limits on sign-up and sign-in, trusting nginx as the
    cluster's nodes do."""
    require_binary("nginx")
    env = {
        **PROXY_TRUST,
        "SIGNUP_MAX_PER_ADDRESS": str(SIGNUP_LIMIT),
        "LOGIN_MAX_FAILURES_PER_ACCOUNT_ADDRESS": str(PAIR_LIMIT),
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": str(ACCOUNT_LIMIT),
    }
    nodes = [infra.start_node(f"edge{i}", **env) for i in (1, 2)]
    folder = tmp_path_factory.mktemp("edge-nginx")
    nginx = Nginx(
        folder=folder,
        upstreams=[f"127.0.0.1:{node.port}" for node in nodes],
        log_dir=folder,
        proxy_bind=PROXY_ADDRESS,
    )
    try:
        yield Edge(nodes=nodes, nginx=nginx.start())
    finally:
        nginx.stop()
        for node in nodes:
            node.stop()
            infra.nodes.remove(node)


@pytest.fixture
async def clients(edge: Edge, settings: Settings) -> AsyncIterator[ClientMaker]:
    """`clients(base_url, from_address)`: API clients connecting from a loopback address."""
    made: list[httpx.AsyncClient] = []

    def make(base_url: str, address: str = "127.0.0.1") -> Api:
        http = httpx.AsyncClient(
            base_url=base_url,
            timeout=30,
            transport=httpx.AsyncHTTPTransport(local_address=address),
        )
        made.append(http)
        return Api(http)

    try:
        yield make
    finally:
        for http in made:
            await http.aclose()


def signup_body() -> dict[str, str]:
    return {
        "email": unique_email("edge"),
        "password": DEFAULT_PASSWORD,
        "name": "Edge",
        "role": "customer",
    }


async def signups(api: Api, count: int, *, forged: bool) -> Counter[int]:
    """`count` sign-ups at once; each one claims another address if `forged`."""

    async def one(index: int) -> int:
        headers = {"X-Forwarded-For": f"203.0.113.{index}"} if forged else {}
        response = await api.post("/api/auth/signup", json=signup_body(), headers=headers)
        return response.status_code

    return Counter(await asyncio.gather(*(one(i) for i in range(count))))


async def test_a_forged_forwarded_for_sent_straight_to_a_node_is_not_believed(
    edge: Edge, clients: ClientMaker
) -> None:
    direct = clients(edge.nodes[0].url)
    statuses = await signups(direct, 25, forged=True)
    assert statuses == {201: SIGNUP_LIMIT, 429: 25 - SIGNUP_LIMIT}


async def test_through_nginx_the_real_client_address_is_counted(
    edge: Edge, clients: ClientMaker
) -> None:
    first = clients(edge.url, "127.0.0.3")
    assert await signups(first, 25, forged=True) == {201: SIGNUP_LIMIT, 429: 25 - SIGNUP_LIMIT}
    # Another client behind the same nginx has a count of its own: nginx is not "the client".
    other = clients(edge.url, "127.0.0.4")
    assert await signups(other, 3, forged=False) == {201: 3}


async def login(api: Api, email: str, password: str) -> httpx.Response:
    return await api.post("/api/auth/login", json={"email": email, "password": password})


async def test_parallel_guesses_are_counted_before_any_password_is_checked(
    edge: Edge, clients: ClientMaker
) -> None:
    owner = clients(edge.url, "127.0.0.3")
    email = (await owner.signup())["email"]
    attacker = clients(edge.url, "127.0.0.5")
    guesses = [f"wrong-guess-{i:04}" for i in range(30)] + [DEFAULT_PASSWORD]
    answers = await asyncio.gather(*(login(attacker, email, guess) for guess in guesses))
    statuses = Counter(answer.status_code for answer in answers)
    # Only the guesses within the limit were verified; the right one got in only if it was one
    # of them, and every other was refused unverified.
    assert statuses[401] <= PAIR_LIMIT, statuses
    assert statuses[401] + statuses[200] <= PAIR_LIMIT + 1, statuses
    assert set(statuses) <= {200, 401, 429}, statuses
    assert statuses[429] >= len(guesses) - PAIR_LIMIT - 1, statuses
    # The right password from the guessing address is beyond the limit now.
    late = await login(attacker, email, DEFAULT_PASSWORD)
    assert_problem(late, 429, "rate-limited")
    assert 1 <= int(late.headers["Retry-After"]) <= 900
    # The owner, from their own address, is not locked out.
    assert (await login(owner, email, DEFAULT_PASSWORD)).status_code == 200


async def test_failures_from_one_address_do_not_lock_the_owner_out_from_another(
    edge: Edge, clients: ClientMaker
) -> None:
    setup = clients(edge.url, "127.0.0.3")
    email = (await setup.signup())["email"]
    attacker = clients(edge.url, "127.0.0.5")
    statuses = [(await login(attacker, email, "wrong-password!")).status_code for _ in range(6)]
    assert statuses == [401] * PAIR_LIMIT + [429]
    owner = clients(edge.url, "127.0.0.6")
    assert (await login(owner, email, DEFAULT_PASSWORD)).status_code == 200


async def test_an_account_failing_from_many_addresses_gives_each_address_one_try(
    edge: Edge, clients: ClientMaker
) -> None:
    setup = clients(edge.url, "127.0.0.3")
    email = (await setup.signup())["email"]
    first, second = clients(edge.url, "127.0.0.7"), clients(edge.url, "127.0.0.8")
    for _ in range(PAIR_LIMIT):
        assert (await login(first, email, "wrong-password!")).status_code == 401
    for _ in range(ACCOUNT_LIMIT - PAIR_LIMIT):
        assert (await login(second, email, "wrong-password!")).status_code == 401
    # The account has had its failures: an address that already tried has no more tries,
    # though it is under its own limit.
    assert_problem(await login(second, email, "wrong-password!"), 429, "rate-limited")
    # A fresh address still has its one try: the owner with the right password gets in.
    owner = clients(edge.url, "127.0.0.9")
    assert (await login(owner, email, DEFAULT_PASSWORD)).status_code == 200
    # One wrong try from another fresh address is checked; a second try from it is not.
    guesser = clients(edge.url, "127.0.0.10")
    assert (await login(guesser, email, "wrong-password!")).status_code == 401
    assert_problem(await login(guesser, email, DEFAULT_PASSWORD), 429, "rate-limited")


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get_list(name) == [value], (response.url, name, response.headers)


async def test_every_answer_of_a_node_and_of_nginx_carries_the_security_headers(
    edge: Edge, clients: ClientMaker
) -> None:
    for base in (edge.nodes[0].url, edge.url):
        api = clients(base)
        for path in ("/", "/customer", "/api/stores", "/api/me", "/healthz", "/no-such-page"):
            assert_security_headers(await api.get(path))
        # Socket.IO's own answers (long-polling handshake, and its refusal without a cookie).
        assert_security_headers(await api.get("/socket.io/?EIO=4&transport=polling"))
    api = clients(edge.url)
    # What nginx serves itself: static files, vendored scripts, its own error pages.
    for path in (
        "/static/css/app.css",
        "/vendor/socket.io/socket.io.esm.min.js",
        "/static/missing.css",
        "/metrics",
    ):
        assert_security_headers(await api.get(path))


def test_nginx_sends_the_policy_the_nodes_send() -> None:
    config = (Path(__file__).resolve().parents[1] / "nginx" / "nginx.conf").read_text()
    assert f'"{SECURITY_HEADERS["Content-Security-Policy"]}"' in config
