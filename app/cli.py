"""The `delivery` command: serve, cluster, migrate, demo, create-admin, openapi, simulate, bench."""

from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from app.config import AdminBootstrap, Settings, password_weakness

ROOT = Path(__file__).resolve().parent.parent
HYPERCORN_TOML = ROOT / "hypercorn.toml"
S = TypeVar("S", bound=BaseSettings)


def _settings(kind: type[S]) -> S:
    try:
        return kind()
    except ValidationError as error:
        lines = [
            f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in error.errors()
        ]
        sys.exit("delivery: invalid configuration\n" + "\n".join(lines))


def _prepare_embedded(settings: Settings) -> None:
    if settings.database_url is None:
        settings.var_dir.mkdir(parents=True, exist_ok=True)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the schema to the latest version."""
    from app.migrate import upgrade

    settings = _settings(Settings)
    _prepare_embedded(settings)
    print(f"migrating {_redact(settings.effective_database_url)} …", flush=True)
    upgrade(settings.effective_database_url)
    print("schema is at the latest version", flush=True)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run one node with Hypercorn."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from app import collector
    from app.asgi import build_asgi
    from app.lifecycle import until_stop_signal

    settings = _settings(Settings)
    if settings.embedded:
        from app.migrate import upgrade

        _prepare_embedded(settings)
        upgrade(settings.effective_database_url)
    config = Config.from_toml(str(HYPERCORN_TOML)) if HYPERCORN_TOML.exists() else Config()
    config.bind = [f"{args.host}:{args.port}"]
    if not settings.access_log:
        config.accesslog = None
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    mode = "embedded (SQLite, in-process Redis, local disk)" if settings.embedded else "services"
    print(f"delivery serving on http://{args.host}:{args.port} — {mode}", flush=True)
    # On SIGTERM the sockets are closed first: clients go to another node at once, and
    # Hypercorn's wait for open connections ends instead of running out on WebSockets.
    app = build_asgi(settings)
    stop = functools.partial(until_stop_signal, then=app.realtime.close_connections)
    collector.tune()
    if settings.event_loop == "uvloop":
        import uvloop

        uvloop.run(serve(app, config, shutdown_trigger=stop))
    else:
        asyncio.run(serve(app, config, shutdown_trigger=stop))
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    """Run MariaDB, three Redis, N nodes and nginx on this machine."""
    from app.launcher.cluster import run_cluster

    # The nodes would each refuse to start; say so before starting MariaDB and the rest.
    _settings(AdminBootstrap)
    return run_cluster(
        nodes=args.nodes,
        port=args.port,
        fresh=args.fresh,
        replica=args.replica,
        redis_cluster=args.redis_cluster,
        session_replica=args.session_replica,
    )


def cmd_netns(args: argparse.Namespace) -> int:
    """Run the topology with every service on a host of its own, or remove what is left."""
    from app.launcher.netns import run_netns, run_netns_down

    if args.action == "down":
        return run_netns_down(everything=args.all)
    _settings(AdminBootstrap)
    return run_netns(nodes=args.nodes, port=args.port, fresh=args.fresh, latency_ms=args.latency_ms)


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run the simulated city against a deployment, then audit it."""
    from app.simulator.capacity import find_capacity
    from app.simulator.compare import compare_dispatch
    from app.simulator.config import SimConfig, parse_clock, parse_duration
    from app.simulator.runner import simulate
    from app.simulator.scaling import compare_scaling, parse_nodes, parse_redis

    try:
        config = SimConfig(
            url=args.url,
            seed=args.seed,
            stores=args.stores,
            customers=args.customers,
            riders=args.riders,
            peak=args.peak,
            speed=args.speed,
            start=parse_clock(args.start),
            duration=parse_duration(args.duration),
            drain=args.drain,
            faults=args.faults,
            partition=args.partition,
            cluster=args.cluster,
            cluster_dir=args.cluster_dir,
            nodes=args.nodes,
            redis_cluster=args.redis_cluster,
            out=args.out,
            admin_email=os.environ.get("DELIVERY_ADMIN_EMAIL") or args.admin_email,
            admin_password=os.environ.get("DELIVERY_ADMIN_PASSWORD") or args.admin_password,
            progress_every=args.progress_every,
            find_capacity=args.find_capacity,
            capacity_step=args.step_seconds,
            flat=args.flat,
            dispatch_strategy=args.dispatch_strategy,
            dispatch_batch_seconds=args.dispatch_batch_seconds,
        )
        scaling_nodes = parse_nodes(args.scaling_nodes)
        scaling_redis = parse_redis(args.scaling_redis)
    except ValueError as error:
        sys.exit(f"delivery: {error}")
    if config.speed <= 0 or config.peak <= 0:
        sys.exit("delivery: --speed and --peak must be positive")
    strategy = config.dispatch_strategy or config.dispatch_batch_seconds
    if strategy is not None and not config.cluster:
        sys.exit(
            "delivery: --dispatch-strategy and --dispatch-batch-seconds set the nodes of "
            "--cluster; a running deployment keeps its own DISPATCH_STRATEGY"
        )
    if (
        config.dispatch_batch_seconds is not None
        and not 0.05 <= config.dispatch_batch_seconds <= 300
    ):
        sys.exit("delivery: --dispatch-batch-seconds must be between 0.05 and 300")
    if config.faults and not (config.cluster or config.cluster_dir):
        sys.exit("delivery: --faults needs --cluster (or --cluster-dir of a running cluster)")
    if config.partition and not config.cluster_dir:
        sys.exit("delivery: --partition needs --cluster-dir of `delivery netns up` (var/netns)")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.compare_dispatch and not config.cluster:
        sys.exit("delivery: --compare-dispatch starts a cluster per strategy: add --cluster")
    if args.compare_dispatch and (config.find_capacity or config.dispatch_strategy):
        sys.exit(
            "delivery: --compare-dispatch runs every strategy; drop --find-capacity and --dispatch-strategy"
        )
    if config.redis_cluster and not config.cluster:
        sys.exit("delivery: --redis-cluster sets up the --cluster's Redis: add --cluster")
    if args.compare_scaling:
        if not config.cluster:
            sys.exit("delivery: --compare-scaling starts a cluster per topology: add --cluster")
        if args.compare_dispatch or config.faults or config.redis_cluster:
            sys.exit(
                "delivery: --compare-scaling runs every topology at capacity; drop "
                "--compare-dispatch, --faults and --redis-cluster"
            )
        config.find_capacity = True
        return _run_simulation(lambda: compare_scaling(config, scaling_nodes, scaling_redis))
    run = (
        compare_dispatch
        if args.compare_dispatch
        else find_capacity
        if config.find_capacity
        else simulate
    )
    return _run_simulation(lambda: run(config))


def _run_simulation(make: Callable[[], Coroutine[Any, Any, int]]) -> int:
    from app.launcher.processes import LaunchError
    from app.simulator.deployment import Unsupported

    try:
        return asyncio.run(make())
    except KeyboardInterrupt:
        return 130
    except (LaunchError, Unsupported) as error:
        print(f"delivery: {error}", file=sys.stderr)
        return 1


def cmd_bench(args: argparse.Namespace) -> int:
    """Measure the platform's figures side by side on a fresh cluster."""
    from app.bench.runner import bench

    old = json.loads(args.compare.read_text()) if args.compare else None
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(
            bench(
                only=args.only,
                quick=args.quick,
                out=args.out,
                compare_to=old,
                profile=args.profile,
            )
        )
    except KeyboardInterrupt:
        return 130


def cmd_demo(args: argparse.Namespace) -> int:
    """Load the demo city."""
    from app.demo import load_demo

    settings = _settings(Settings)
    _prepare_embedded(settings)
    return asyncio.run(load_demo(settings, only_if_empty=args.if_empty))


def cmd_create_admin(args: argparse.Namespace) -> int:
    """Create an admin account."""
    from app.auth.service import ensure_admin

    settings = _settings(Settings)
    password = settings.delivery_admin_password or ""
    if not password:
        if not sys.stdin.isatty():
            sys.exit("delivery: set DELIVERY_ADMIN_PASSWORD or run in a terminal to be asked")
        password = getpass.getpass("Password for the admin: ").strip()
        if password != getpass.getpass("Again: ").strip():
            sys.exit("delivery: the passwords differ")
    weakness = password_weakness(password)
    if weakness is not None:
        sys.exit(f"delivery: the password {weakness}")

    async def _run() -> tuple[int, bool]:
        from contextlib import AsyncExitStack

        from app.auth.passwords import Passwords
        from app.bootstrap import open_platform

        async with AsyncExitStack() as stack:
            services = await open_platform(settings, stack)
            user, created = await ensure_admin(
                db=services.db,
                passwords=services.get(Passwords),
                email=args.email,
                password=password,
            )
            return user.id, created

    user_id, created = asyncio.run(_run())
    print(f"admin {args.email} {'created' if created else 'already exists'} (id {user_id})")
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    """Write the API description (docs/openapi.json is this command's output)."""
    from app import create_app
    from app.openapi import openapi_document

    # Describing the API reads no setting and opens nothing: embedded defaults will do.
    document = openapi_document(create_app(Settings.model_construct()).quart)
    if args.output == "-":
        sys.stdout.write(document)
    else:
        Path(args.output).write_text(document, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.split("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}" if ":" in creds else url
    return url


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `delivery`."""
    parser = argparse.ArgumentParser(prog="delivery", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run one node")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)

    cluster = sub.add_parser(
        "cluster",
        help="MariaDB, three Redis, N nodes (restarted if they exit) and nginx on this machine",
    )
    cluster.add_argument("--nodes", type=int, default=2)
    cluster.add_argument("--port", type=int, default=8080)
    cluster.add_argument("--fresh", action="store_true", help="start from an empty database")
    cluster.add_argument(
        "--replica",
        action="store_true",
        help="also run a MariaDB read replica for catalog and order-history reads",
    )
    cluster.add_argument(
        "--redis-cluster",
        action="store_true",
        help="a Redis Cluster (3 masters, 3 replicas) for the cache and events Redis",
    )
    cluster.add_argument(
        "--session-replica",
        action="store_true",
        help="the session Redis as a master and a replica watched by three Redis Sentinels, "
        "which promote the replica if the master is lost (the nodes follow it)",
    )
    cluster.set_defaults(func=cmd_cluster)

    netns = sub.add_parser(
        "netns",
        help="the cluster on a real network: each service in a Linux network namespace (root)",
        description="`up`: nginx, the nodes, MariaDB and each Redis on hosts of their own (network "
        "namespaces on one bridge, with latency on every cable), until Ctrl-C; `down`: remove "
        "the namespaces and bridges a stopped or killed `up` left behind.",
    )
    netns.add_argument("action", choices=("up", "down"))
    netns.add_argument("--nodes", type=int, default=2)
    netns.add_argument("--port", type=int, default=80, help="nginx's port on its host")
    netns.add_argument("--fresh", action="store_true", help="start from an empty database")
    netns.add_argument(
        "--latency-ms", type=float, default=1.0, help="delay on every cable (default 1 ms)"
    )
    netns.add_argument(
        "--all", action="store_true", help="with `down`: also those of running processes"
    )
    netns.set_defaults(func=cmd_netns)

    migrate = sub.add_parser("migrate", help="bring the database schema to the latest version")
    migrate.set_defaults(func=cmd_migrate)

    demo = sub.add_parser("demo", help="load demo stores, menus and sign-ins")
    demo.add_argument("--if-empty", action="store_true", help="do nothing if demo data exists")
    demo.set_defaults(func=cmd_demo)

    admin = sub.add_parser(
        "create-admin", help="create an admin (password from DELIVERY_ADMIN_PASSWORD)"
    )
    admin.add_argument("email")
    admin.set_defaults(func=cmd_create_admin)

    openapi = sub.add_parser("openapi", help="write the OpenAPI description of the HTTP API")
    openapi.add_argument(
        "--output", "-o", default="docs/openapi.json", help="file to write, or - for stdout"
    )
    openapi.set_defaults(func=cmd_openapi)
    _simulate_parser(sub)
    _bench_parser(sub)
    return parser


def _bench_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser(
        "bench",
        help="benchmark: CPU per request, orders/s, realtime latency, fan-out, accept race, "
        "Redis publish capacity",
        description="Start the production topology with the launcher and measure, in one run, "
        "figures side by side (README, Benchmarks); write results.json and chart.png.",
    )
    bench.add_argument("--quick", action="store_true", help="small counts (about two minutes)")
    bench.add_argument(
        "--only",
        action="append",
        choices=["cpu", "orders", "realtime", "fanout", "dispatch", "pubsub"],
        help="run only this section (repeatable)",
    )
    bench.add_argument(
        "--out", type=Path, default=None, help="folder for the results (default var/bench/<time>/)"
    )
    bench.add_argument(
        "--compare", type=Path, default=None, help="an older results.json to print beside this run"
    )
    bench.add_argument(
        "--profile",
        action="store_true",
        help="also record a py-spy profile of the nodes during each CPU figure (cpu and fanout "
        "sections): where their time went, by library, printed and kept in profiles/; the "
        "sampler shares the machine, so take figures from a run without it",
    )
    bench.set_defaults(func=cmd_bench)


def _simulate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from app.simulator.config import DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, DEFAULT_URL

    sim = sub.add_parser(
        "simulate",
        help="a dinner peak in a box: simulated customers, owners and riders, then an audit",
        description="Drive a deployment through its public API and Socket.IO as a city of "
        "customers, store owners and riders would, then audit every promise (docs/simulator.md).",
    )
    sim.add_argument("--url", default=DEFAULT_URL, help="the deployment (default: %(default)s)")
    sim.add_argument("--cluster", action="store_true", help="start a cluster of its own")
    sim.add_argument(
        "--cluster-dir",
        type=Path,
        default=None,
        help="a running `delivery cluster`'s folder (var/cluster): its pids and ports",
    )
    sim.add_argument("--nodes", type=int, default=2, help="nodes of the --cluster (default 2)")
    sim.add_argument("--seed", type=int, default=1, help="the random generator's seed")
    sim.add_argument("--stores", type=int, default=8)
    sim.add_argument("--customers", type=int, default=60)
    sim.add_argument("--riders", type=int, default=24)
    sim.add_argument(
        "--peak",
        type=float,
        default=30.0,
        help="orders per wall-clock minute at the top of the dinner peak",
    )
    sim.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="simulated seconds per wall-clock second (60: an hour in a minute)",
    )
    sim.add_argument("--start", default="17:30", help="simulated time of day to start (HH:MM)")
    sim.add_argument("--duration", default="2h", help="simulated time of demand (10m, 2h, 1h30m)")
    sim.add_argument(
        "--drain",
        type=float,
        default=120.0,
        help="wall seconds for open orders to finish after demand stops",
    )
    sim.add_argument("--flat", action="store_true", help="demand constant at --peak")
    sim.add_argument(
        "--dispatch-strategy",
        choices=("offers", "batch"),
        help="the DISPATCH_STRATEGY of the --cluster's nodes (default: offers)",
    )
    sim.add_argument(
        "--dispatch-batch-seconds",
        type=float,
        help="their DISPATCH_BATCH_SECONDS, with --dispatch-strategy batch (default 5)",
    )
    sim.add_argument(
        "--faults",
        action="store_true",
        help="kill a node, pause one, restart both Redis empty and kill MariaDB",
    )
    sim.add_argument(
        "--partition",
        action="store_true",
        help="cut node1's host off the network for 10 s (--cluster-dir of `delivery netns up`)",
    )
    sim.add_argument(
        "--find-capacity",
        action="store_true",
        help="raise the demand step by step until a latency bound breaks",
    )
    sim.add_argument("--step-seconds", type=float, default=60.0, help="wall seconds per step")
    sim.add_argument(
        "--compare-dispatch",
        action="store_true",
        help="with --cluster: the same city under each DISPATCH_STRATEGY in turn, and a table",
    )
    sim.add_argument(
        "--redis-cluster",
        action="store_true",
        help="the --cluster's cache and events on a Redis Cluster (3 masters, a replica each)",
    )
    sim.add_argument(
        "--compare-scaling",
        action="store_true",
        help="with --cluster: the capacity search on each topology in turn "
        "(--scaling-nodes × --scaling-redis), and a table and a chart",
    )
    sim.add_argument(
        "--scaling-nodes",
        default="1,2,3",
        help="app node counts for --compare-scaling (default: %(default)s)",
    )
    sim.add_argument(
        "--scaling-redis",
        default="single,cluster",
        help="Redis topologies for --compare-scaling (default: %(default)s)",
    )
    sim.add_argument(
        "--out",
        type=Path,
        default=Path("test-artifacts/simulations"),
        help="where each run's folder goes (default: %(default)s)",
    )
    sim.add_argument(
        "--admin-email",
        default=DEFAULT_ADMIN_EMAIL,
        help="an admin, for the coupon campaign (DELIVERY_ADMIN_EMAIL wins)",
    )
    sim.add_argument(
        "--admin-password",
        default=DEFAULT_ADMIN_PASSWORD,
        help="its password (DELIVERY_ADMIN_PASSWORD wins)",
    )
    sim.add_argument("--progress-every", type=float, default=5.0, help="seconds between lines")
    sim.set_defaults(func=cmd_simulate)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
