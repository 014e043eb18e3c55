"""nginx in front answers in the API's own error shape too: never one of its HTML pages."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.launcher.cluster import Cluster
from app.launcher.nginx import Nginx
from app.launcher.processes import free_port
from tests.client import Api, assert_problem
from tests.harness import require_binary
from tests.system import http_client

pytestmark = pytest.mark.system


@dataclass
class Raw:
    """An answer read off the socket, for requests no HTTP client would send."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        body: dict[str, object] = json.loads(self.body)
        return body


def send_raw(url: str, request: bytes) -> Raw:
    """Write `request` as is to the server at `url` and read the answer until it closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Raw(int(status_line.split(" ")[1]), headers, body)


def assert_raw_problem(answer: Raw, status: int, code: str) -> None:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/problem+json", answer
    body = answer.json()
    assert body == {
        "type": f"/problems/{code}",
        "title": body["title"],
        "status": status,
        "code": code,
        "detail": body["detail"],
    }
    assert body["title"] and body["detail"]


async def test_an_oversized_body_through_nginx_is_a_too_large_problem(cluster: Cluster) -> None:
    async with http_client(cluster.url) as http:
        response = await Api(http).post(
            "/api/auth/login",
            content=b"x" * (7 * 1024 * 1024),
            headers={"Content-Type": "application/json"},
        )
    assert_problem(response, 413, "too-large")


MALFORMED = {
    "a header line without a colon": (
        b"GET /api/me HTTP/1.1\r\nHost: x\r\nNot a header\r\n\r\n",
        400,
        "validation",
    ),
    "a lower-case method": (b"get /api/me HTTP/1.1\r\nHost: x\r\n\r\n", 400, "validation"),
    "no Host": (b"GET /api/me HTTP/1.1\r\n\r\n", 400, "validation"),
    "a request line over 8 KiB": (
        b"GET /api/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        414,
        "uri-too-long",
    ),
    "a header over 8 KiB": (
        b"GET /api/me HTTP/1.1\r\nHost: x\r\nCookie: c=" + b"a" * 9000 + b"\r\n\r\n",
        431,
        "headers-too-large",
    ),
    "an unknown HTTP version": (
        b"GET /api/me HTTP/2.5\r\nHost: x\r\n\r\n",
        505,
        "http-version-not-supported",
    ),
    "an unknown transfer coding": (
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
        "not-implemented",
    ),
    "TRACE": (b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method-not-allowed"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_request_nginx_rejects_itself_is_a_problem(cluster: Cluster, case: str) -> None:
    request, status, code = MALFORMED[case]
    assert_raw_problem(send_raw(cluster.url, request), status, code)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "/static/css/app.css", 405, "method-not-allowed"),
        ("DELETE", "/vendor/socket.io/socket.io.min.js", 405, "method-not-allowed"),
        ("GET", "/static/css/missing.css", 404, "not-found"),
        ("GET", "/vendor/swagger-ui/missing.js", 404, "not-found"),
        ("GET", "/static/", 403, "forbidden"),
    ],
)
async def test_static_file_errors_are_problems(
    cluster: Cluster, method: str, path: str, status: int, code: str
) -> None:
    async with http_client(cluster.url) as http:
        response = await http.request(method, path)
    # Not text/css from the path's extension, not nginx's HTML.
    assert_problem(response, status, code)


async def test_a_range_past_the_end_of_a_static_file_is_a_problem(cluster: Cluster) -> None:
    async with http_client(cluster.url) as http:
        response = await http.get("/static/css/app.css", headers={"Range": "bytes=99999999-"})
    assert_problem(response, 416, "range-not-satisfiable")


@pytest.mark.parametrize(
    "precondition",
    [{"If-Match": '"not-this-file"'}, {"If-Unmodified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"}],
)
async def test_a_static_file_failing_its_precondition_is_a_problem(
    cluster: Cluster, precondition: dict[str, str]
) -> None:
    async with http_client(cluster.url) as http:
        response = await http.get("/static/css/app.css", headers=precondition)
    assert_problem(response, 412, "precondition-failed")


async def test_the_nodes_own_problems_pass_through_nginx_untouched(cluster: Cluster) -> None:
    node = cluster.node_list[0].url
    async with http_client(cluster.url) as via_nginx, http_client(node) as direct:
        for method, path in (
            ("GET", "/api/no-such-thing"),
            ("GET", "/api/me"),
            ("PUT", "/healthz"),
        ):
            proxied = await via_nginx.request(method, path)
            own = await direct.request(method, path)
            assert proxied.status_code == own.status_code >= 400
            assert proxied.headers["content-type"] == own.headers["content-type"]
            assert proxied.json() == own.json()


@pytest.mark.parametrize(
    "path", ["/metrics", "/metrics/", "//metrics", "/./metrics", "/static/../metrics", "/%6Detrics"]
)
async def test_metrics_are_not_served_through_nginx(cluster: Cluster, path: str) -> None:
    answer = send_raw(
        cluster.url, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    assert_raw_problem(answer, 404, "not-found")
    assert b"http_requests_total" not in answer.body


async def test_operators_still_scrape_each_node_and_readiness_stays_public(
    cluster: Cluster,
) -> None:
    async with http_client(cluster.node_list[0].url) as direct, http_client(cluster.url) as http:
        scraped = await direct.get("/metrics")
        ready = await http.get("/readyz")
    assert scraped.status_code == 200 and "http_requests_total" in scraped.text
    assert ready.status_code == 200 and ready.json()["ready"] is True


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/socket.io/?EIO=4&transport=carrier-pigeon"),
        ("GET", "/socket.io/?EIO=4&transport=polling&sid=no-such-session"),
        ("PUT", "/socket.io/?EIO=4&transport=polling"),
    ],
)
async def test_socketio_errors_through_nginx_are_problems(
    cluster: Cluster, method: str, path: str
) -> None:
    async with http_client(cluster.url) as http:
        response = await http.request(method, path)
    assert response.status_code in (400, 405), response.text
    code = "validation" if response.status_code == 400 else "method-not-allowed"
    assert_problem(response, response.status_code, code)


@pytest.fixture
def lone_nginx(tmp_path: Path) -> Iterator[Callable[[str], Nginx]]:
    """`lone_nginx(upstream)`: the cluster's nginx configuration in front of one address."""
    require_binary("nginx")
    started: list[Nginx] = []

    def start(upstream: str) -> Nginx:
        nginx = Nginx(folder=tmp_path / f"nginx{len(started)}", upstreams=[upstream])
        started.append(nginx)
        return nginx.start(wait_for_nodes=False)

    try:
        yield start
    finally:
        for nginx in started:
            nginx.stop()


def assert_unavailable(response: httpx.Response) -> None:
    assert_problem(response, 503, "unavailable")
    assert int(response.headers["retry-after"]) >= 1


def test_no_live_node_is_unavailable_with_retry_after(lone_nginx: Callable[[str], Nginx]) -> None:
    nginx = lone_nginx(f"127.0.0.1:{free_port()}")  # nothing listens there
    with httpx.Client(base_url=nginx.url, timeout=30) as http:
        for method, path in (
            ("GET", "/api/stores"),
            ("POST", "/api/orders"),
            ("GET", "/readyz"),
            ("GET", "/socket.io/?EIO=4&transport=polling"),
        ):
            assert_unavailable(http.request(method, path))


def test_a_node_that_does_not_answer_in_time_is_unavailable(
    lone_nginx: Callable[[str], Nginx],
) -> None:
    # A listener whose accept queue is full: the kernel drops further connection attempts, as
    # for a node too busy to accept, and nginx gives up connecting after proxy_connect_timeout.
    with socket.socket() as stuck:
        stuck.bind(("127.0.0.1", 0))
        stuck.listen(0)
        with socket.create_connection(stuck.getsockname(), timeout=5):
            nginx = lone_nginx(f"127.0.0.1:{stuck.getsockname()[1]}")
            started = time.monotonic()
            with httpx.Client(base_url=nginx.url, timeout=30) as http:
                response = http.get("/api/stores")
            waited = time.monotonic() - started
    assert_unavailable(response)
    assert waited >= 1.5, waited
    assert "upstream timed out" in (nginx.folder / "error.log").read_text()
