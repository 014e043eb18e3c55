"""The `delivery` command: serve, cluster, migrate, demo, create-admin, openapi."""

from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import logging
import sys
from pathlib import Path
from typing import TypeVar

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

    from app.asgi import build_asgi
    from app.lifecycle import until_stop_signal

    settings = _settings(Settings)
    if settings.embedded:
        from app.migrate import upgrade

        _prepare_embedded(settings)
        upgrade(settings.effective_database_url)
    config = Config.from_toml(str(HYPERCORN_TOML)) if HYPERCORN_TOML.exists() else Config()
    config.bind = [f"{args.host}:{args.port}"]
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    mode = "embedded (SQLite, in-process Redis, local disk)" if settings.embedded else "services"
    print(f"delivery serving on http://{args.host}:{args.port} — {mode}", flush=True)
    # On SIGTERM the sockets are closed first: clients go to another node at once, and
    # Hypercorn's wait for open connections ends instead of running out on WebSockets.
    app = build_asgi(settings)
    stop = functools.partial(until_stop_signal, then=app.realtime.close_connections)
    asyncio.run(serve(app, config, shutdown_trigger=stop))
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    """Run MariaDB, two Redis, N nodes and nginx on this machine."""
    from app.launcher.cluster import run_cluster

    # The nodes would each refuse to start; say so before starting MariaDB and the rest.
    _settings(AdminBootstrap)
    return run_cluster(nodes=args.nodes, port=args.port, fresh=args.fresh)


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
        help="MariaDB, two Redis, N nodes (restarted if they exit) and nginx on this machine",
    )
    cluster.add_argument("--nodes", type=int, default=2)
    cluster.add_argument("--port", type=int, default=8080)
    cluster.add_argument("--fresh", action="store_true", help="start from an empty database")
    cluster.set_defaults(func=cmd_cluster)

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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
