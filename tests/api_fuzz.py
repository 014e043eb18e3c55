"""Fuzz the HTTP API against its own description with schemathesis, signed in as each role.

    .venv/bin/python -m tests.api_fuzz [--examples 30] [--report-dir test-artifacts/schemathesis]

Starts MariaDB, two redis-servers and one real node (the test harness's), seeds a store with a
menu, a coupon campaign, orders and a rider on shift, then runs `st run` once anonymously and
once with the session cookie and CSRF token of a customer, an owner, a rider and an admin; half
the ids it sends (paths, order lines, coupons) are ones that exist.
Every response is checked against /api/openapi.json: status codes, media types, headers and
bodies. `tests/test_api_fuzz.py` runs the same with a few examples per operation in `make test`;
this command runs it with as many as asked.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx

from app.launcher.nodes import Node
from tests.harness import Infra, start_infra

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct-horse-battery"
ADMIN = ("fuzz-admin@example.com", "fuzz-admin-password")
# Conformance of the answers to the description; the data-acceptance checks need a request
# schema as strict as the server (it is not: a phone's digit count, a campaign's dates).
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance"
)
# Which parameters draw from which ids of the seeded data (see `Seeded.config`).
BINDINGS = {
    "path.store_id": "stores",
    "path.item_id": "items",
    "path.campaign_id": "campaigns",
    "path.order_id": "orders",
    "query.store_id": "stores",
    "body.store_id": "stores",
    "body.items[*].menu_item_id": "items",
    "body.items[*].option_ids[*]": "options",
    "body.coupon_id": "coupons",
}
# Signing out would end the session the rest of the run uses.
SIGNED_IN_EXCLUDES = ("--exclude-operation-id", "auth_logout")
ROLES = ("anonymous", "customer", "owner", "rider", "admin")


def _sign_in(http: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = http.post("/api/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies.jar)
    return {"Cookie": cookie, "X-CSRF-Token": response.json()["csrf_token"]}


def _account(base: str, role: str) -> tuple[httpx.Client, dict[str, str]]:
    http = httpx.Client(base_url=base, timeout=30)
    email = f"fuzz-{role}@example.com"
    signup = {"email": email, "password": PASSWORD, "name": f"Fuzz {role}", "role": role}
    http.post("/api/auth/signup", json=signup).raise_for_status()
    headers = _sign_in(http, email)
    http.headers.update({"X-CSRF-Token": headers["X-CSRF-Token"]})
    return http, headers


def _ok(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json() if response.content else None


@dataclass
class Seeded:
    """What the fuzzer signs in with, and the ids it should often use instead of random ones."""

    headers: dict[str, dict[str, str]]
    ids: dict[str, list[int]]

    def config(self) -> str:
        """A schemathesis.toml drawing path ids and body ids from what exists, half the time."""
        lines = []
        for name, values in self.ids.items():
            lines += [f"[dictionaries.{name}]", f"values = {values}", ""]
        lines.append("[parameters]")
        for key, name in BINDINGS.items():
            lines.append(f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}')
        return "\n".join(lines) + "\n"


def seed(base: str) -> Seeded:
    """Accounts of every role with something to act on; their request headers by role."""
    clients: list[httpx.Client] = []
    try:
        return _seed(base, clients)
    finally:
        for client in clients:
            client.close()


def _seed(base: str, clients: list[httpx.Client]) -> Seeded:
    owner, owner_headers = _account(base, "owner")
    customer, customer_headers = _account(base, "customer")
    rider, rider_headers = _account(base, "rider")
    admin = httpx.Client(base_url=base, timeout=30)
    clients += [owner, customer, rider, admin]
    admin_headers = _sign_in(admin, *ADMIN)
    admin.headers.update({"X-CSRF-Token": admin_headers["X-CSRF-Token"]})

    store = _ok(
        owner.post(
            "/api/stores",
            json={
                "name": "Fuzz Kitchen",
                "category": "korean",
                "address": "1 Sejong-daero",
                "lat": 37.5665,
                "lng": 126.978,
                "phone": "02-123-4567",
                "min_order": 0,
                "delivery_fee": 3000,
            },
        )
    )
    item = _ok(
        owner.post(
            f"/api/stores/{store['id']}/menu",
            json={
                "name": "Bibimbap",
                "price": 9000,
                "group": "Rice",
                "options": [{"name": "Egg", "price": 500}],
            },
        )
    )
    # The most a menu item may cost: big orders of it reach the largest totals.
    dear = _ok(
        owner.post(
            f"/api/stores/{store['id']}/menu",
            json={"name": "Banquet", "price": 10_000_000, "group": "Feasts"},
        )
    )
    _ok(owner.patch(f"/api/stores/{store['id']}", json={"open": True}))
    now = datetime.now(UTC)
    campaign = _ok(
        admin.post(
            "/api/coupon-campaigns",
            json={
                "name": "Fuzz",
                "discount": 1000,
                "min_order": 1000,
                "quantity": 100,
                "starts_at": (now - timedelta(minutes=1)).isoformat(),
                "ends_at": (now + timedelta(days=1)).isoformat(),
            },
        )
    )
    coupon = _ok(customer.post(f"/api/coupon-campaigns/{campaign['id']}/claim"))
    _ok(rider.put("/api/riders/me/shift", json={"online": True, "lat": 37.5665, "lng": 126.978}))
    orders = []
    for n in range(3):
        order = _ok(
            customer.post(
                "/api/orders",
                headers={"Idempotency-Key": f"fuzz-{n}"},
                json={
                    "store_id": store["id"],
                    "items": [{"menu_item_id": item["id"], "quantity": 1}],
                    "address": {"text": "City Hall", "lat": 37.5663, "lng": 126.9779},
                    "payment": {"method": "card", "card_number": "4242424242424242"},
                },
            )
        )
        orders.append(order["id"])
        if n:
            _ok(owner.post(f"/api/orders/{order['id']}/accept", json={"prep_minutes": 10}))
    headers = {
        "customer": customer_headers,
        "owner": owner_headers,
        "rider": rider_headers,
        "admin": admin_headers,
    }
    ids = {
        "stores": [store["id"]],
        "items": [item["id"], dear["id"]],
        "options": [option["id"] for option in item["options"]],
        "campaigns": [campaign["id"]],
        "coupons": [coupon["id"]],
        "orders": orders,
    }
    return Seeded(headers, ids)


@dataclass
class Fuzzed:
    """One `st run`: as whom, its exit code, how many cases it generated, and what it printed."""

    role: str
    exit_code: int
    generated: int
    output: str
    # From its JUnit report: the operations it ran, and those with a failing check.
    operations: int = 0
    failing: int = 0

    @property
    def summary(self) -> str:
        """`role: N operations, N cases, N failing, exit 0` and schemathesis's failure list."""
        line = (
            f"{self.role}: {self.operations} operations, {self.generated} cases, "
            f"{self.failing} failing, exit {self.exit_code}"
        )
        if self.exit_code:
            failures = self.output[self.output.find("Failures:") :].split("Warnings:")[0]
            line += "\n" + failures.strip()
        return line


def run_schemathesis(
    base: str, role: str, headers: dict[str, str], *, examples: int, reports: Path
) -> Fuzzed:
    """One `st run` as `role` (no headers: anonymous)."""
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{base}/api/openapi.json",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(examples),
        # One worker: hypothesis parses its own sources from several threads otherwise, which
        # CPython 3.11's parser does not survive (SystemError: AST constructor recursion).
        "--workers",
        "1",
        "--seed",
        "1",
        "--continue-on-failure",
        "--suppress-health-check",
        "all",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(reports / f"{role}.xml"),
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    if headers:
        command += list(SIGNED_IN_EXCLUDES)
    # Its cache of failing cases (`.schemathesis/`) goes beside the reports.
    done = subprocess.run(command, cwd=reports, check=False, capture_output=True, text=True)
    output = done.stdout + done.stderr
    generated = re.search(r"(\d+) generated", output)
    operations, failing = junit_counts(reports / f"{role}.xml")
    return Fuzzed(
        role,
        done.returncode,
        int(generated.group(1)) if generated else 0,
        output,
        operations=operations,
        failing=failing,
    )


def junit_counts(report: Path) -> tuple[int, int]:
    """(operations, operations with a failing check or an error) in a JUnit report."""
    if not report.exists():
        return 0, 0
    cases = ElementTree.parse(report).getroot().iter("testcase")
    outcomes = [any(child.tag in ("failure", "error") for child in case) for case in cases]
    return len(outcomes), sum(outcomes)


def totals(results: list[Fuzzed]) -> str:
    """One line: the operations, cases and failures of every role's run together."""
    return (
        f"{len(results)} roles: {sum(r.operations for r in results)} operation runs, "
        f"{sum(r.generated for r in results)} cases, "
        f"{sum(r.failing for r in results)} operations failing"
    )


def fuzz(node: Node, *, examples: int, roles: list[str], reports: Path) -> list[Fuzzed]:
    """Seed the node's data, then fuzz its API as each of `roles` (`anonymous` included)."""
    reports.mkdir(parents=True, exist_ok=True)
    seeded = seed(node.url)
    (reports / "schemathesis.toml").write_text(seeded.config())
    results = []
    for role in roles:
        headers = {} if role == "anonymous" else seeded.headers[role]
        result = run_schemathesis(node.url, role, headers, examples=examples, reports=reports)
        print(result.summary, flush=True)
        results.append(result)
    shutil.copy(node.log_path, reports / "node.log")
    return results


def start_fuzz_node(infra: Infra) -> Node:
    """A real node with a known admin, whose sign-up limit lets a fuzzer sign up hundreds of times."""
    return infra.start_node(
        "fuzz",
        DELIVERY_ADMIN_EMAIL=ADMIN[0],
        DELIVERY_ADMIN_PASSWORD=ADMIN[1],
        SIGNUP_MAX_PER_ADDRESS=os.environ.get("SIGNUP_MAX_PER_ADDRESS", "1000000"),
    )


def main() -> int:
    """Start the services and a node, seed them, and fuzz as every role."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=30, help="test cases per operation")
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--report-dir", default="test-artifacts/schemathesis", type=Path)
    args = parser.parse_args()
    reports = (ROOT / args.report_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="api-fuzz-") as folder:
        infra: Infra = start_infra(Path(folder))
        try:
            node = start_fuzz_node(infra)
            results = fuzz(
                node, examples=args.examples, roles=args.roles.split(","), reports=reports
            )
        finally:
            infra.stop()
    print(f"\n{totals(results)}; JUnit reports and the node's log in {reports}")
    return 0 if not any(r.exit_code for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
