"""The dependency graph of the code points one way, and every dependency is declared at the top.

Read from the source with `ast` (nothing is imported): every `import` of a first-party module,
wherever it stands, is an edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("app", "realtime", "dispatch")
# Command-line wiring may import lazily, so that `delivery --help` stays fast.
LAZY_IMPORTS_ALLOWED = {"app.cli"}
# Shared plumbing: knows no part of the business (auth, catalog, orders, payments, rewards,
# web, realtime, dispatch) and no composition root.
PLUMBING = {
    "app.config",
    "app.container",
    "app.db",
    "app.errors",
    "app.geo",
    "app.lifecycle",
    "app.metrics",
    "app.outbox",
    "app.problems",
    "app.proxies",
    "app.ratelimit",
    "app.redis_clients",
    "app.responses",
    "app.security_headers",
    "app.storage",
    "app.validation",
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    in_function: bool


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in FIRST_PARTY:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The first-party module `name` refers to (a name inside a module resolves to the module)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _edges(module: str, path: Path) -> Iterator[Edge]:
    def visit(node: ast.AST, in_function: bool) -> Iterator[Edge]:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names = [f"{child.module}.{alias.name}" for alias in child.names]
            for name in names:
                target = _resolve(name) if name.split(".")[0] in FIRST_PARTY else None
                if target is not None and target != module:
                    yield Edge(module, target, child.lineno, in_function)
            yield from visit(child, nested)

    yield from visit(ast.parse(path.read_text(), str(path)), False)


EDGES = [edge for module, path in MODULES.items() for edge in _edges(module, path)]


def _package(module: str) -> str:
    """`app.orders.service` → `app.orders`; `realtime.fanout` → `realtime`; `app` → `app`."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "app" and len(parts) > 1 else parts[0]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_graph_was_read() -> None:
    assert {"app.bootstrap", "app.orders.service", "dispatch.hooks", "realtime.fanout"} <= set(
        MODULES
    )
    assert any((e.source, e.target) == ("dispatch.hooks", "app.orders.lifecycle") for e in EDGES)


def test_first_party_imports_stand_at_the_top_of_their_module() -> None:
    lazy = [
        f"{e.source}:{e.line} imports {e.target} inside a function"
        for e in EDGES
        if e.in_function and e.source not in LAZY_IMPORTS_ALLOWED
    ]
    assert lazy == []


def test_no_module_imports_itself_back_through_others() -> None:
    graph: dict[str, set[str]] = {}
    for edge in EDGES:
        graph.setdefault(edge.source, set()).add(edge.target)
    assert _cycles(graph) == []


def test_no_package_depends_on_a_package_that_depends_back_on_it() -> None:
    graph: dict[str, set[str]] = {}
    for edge in EDGES:
        source, target = _package(edge.source), _package(edge.target)
        if source != target:
            graph.setdefault(source, set()).add(target)
    assert _cycles(graph) == []


@pytest.mark.parametrize("plumbing", sorted(PLUMBING))
def test_plumbing_knows_no_part_of_the_business(plumbing: str) -> None:
    assert plumbing in MODULES
    reaches = sorted(
        {e.target for e in EDGES if e.source == plumbing and _package(e.target) not in PLUMBING}
    )
    assert reaches == []


def test_orders_know_nothing_of_dispatch_or_realtime() -> None:
    reaches = sorted(
        {
            e.target
            for e in EDGES
            if _package(e.source) == "app.orders" and _package(e.target) in ("dispatch", "realtime")
        }
    )
    assert reaches == []


def test_only_the_entry_points_import_the_composition_root() -> None:
    importers = sorted({e.source for e in EDGES if e.target in ("app", "app.bootstrap")})
    assert importers == ["app", "app.asgi", "app.cli", "app.demo"]
