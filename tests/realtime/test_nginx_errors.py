"""nginx in front answers in the API's own error shape too."""

from __future__ import annotations

import pytest

from app.launcher.cluster import Cluster
from tests.client import Api, assert_problem
from tests.system import http_client

pytestmark = pytest.mark.system


async def test_an_oversized_body_through_nginx_is_a_too_large_problem(cluster: Cluster) -> None:
    async with http_client(cluster.url) as http:
        response = await Api(http).post(
            "/api/auth/login",
            content=b"x" * (7 * 1024 * 1024),
            headers={"Content-Type": "application/json"},
        )
    assert_problem(response, 413, "too-large")
