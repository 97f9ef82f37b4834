"""The `todo` command: run the local stack, migrate a database, write the OpenAPI document."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

from todo.settings import Settings


@contextmanager
def _database(settings: Settings) -> Iterator[tuple[str, str]]:
    """The database URL to use and how to describe it: DATABASE_URL, or the embedded server."""
    if settings.database_url:
        yield settings.database_url, "DATABASE_URL"
        return
    from todo import embedded_postgres

    folder = settings.data_dir / "postgres"
    server = embedded_postgres.start(folder)
    try:
        asyncio.run(embedded_postgres.ensure_database(server.get_uri(), "todo"))
        yield server.get_uri("todo"), f"embedded Postgres, files in {folder} (kept between runs)"
    finally:
        server.cleanup()


def cmd_dev(args: argparse.Namespace) -> int:
    import uvicorn

    from todo import dev
    from todo.bus import LocalBus
    from todo.clock import SystemClock
    from todo.db import Database
    from todo.migrations import migrate
    from todo.runtime import configure
    from todo.tokens import check_config

    settings = Settings.from_env()
    with _database(settings) as (url, description):
        settings = settings.with_changes(
            database_url=url,
            jwt_secret=settings.jwt_secret or dev.dev_secret(settings.data_dir),
            function_name="todo-dev",
        )
        try:
            check_config(settings)
        except RuntimeError as exc:
            raise SystemExit(f"todo dev: {exc}") from None
        asyncio.run(migrate(url))
        configure(settings, clock=SystemClock(), database=Database(settings), publisher=LocalBus())
        app = dev.build_app()
        base = f"http://{args.host}:{args.port}"
        print(dev.banner(base, description), flush=True)
        uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from todo.migrations import migrate

    with _database(Settings.from_env()) as (url, description):
        applied = asyncio.run(migrate(url))
    names = ", ".join(applied) or "none pending"
    print(f"applied {len(applied)} migration(s) to {description}: {names}")
    return 0


def openapi_document() -> dict[str, Any]:
    import functions
    from todo import openapi

    apis = [functions.load(name).api for name in functions.HTTP_FUNCTIONS]
    return openapi.build(apis, version("todo-functions"))


def render_openapi() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=False) + "\n"


def cmd_openapi(args: argparse.Namespace) -> int:
    target = Path(__file__).with_name("openapi.json")
    rendered = render_openapi()
    if args.check:
        if not target.exists() or target.read_text() != rendered:
            print(f"{target} is out of date; run: todo openapi", file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    target.write_text(rendered)
    print(f"wrote {target}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="todo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="run every function, the bus and Postgres locally")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8080)
    dev.set_defaults(run=cmd_dev)

    migrate = commands.add_parser("migrate", help="apply pending sql/ migrations")
    migrate.set_defaults(run=cmd_migrate)

    openapi = commands.add_parser("openapi", help="write todo/openapi.json from the routes")
    openapi.add_argument("--check", action="store_true", help="fail if the file is out of date")
    openapi.set_defaults(run=cmd_openapi)

    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
