"""The operator's commands: the local stack, migrations, dead letters, the outbox, the API
document. They import the server library, so the entry point loads this module only to run
one of them."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

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


@contextmanager
def _reporting_unreachable(url: str) -> Iterator[None]:
    """A database that cannot be reached is one line for the operator, not a traceback."""
    from todo.db import CONNECTION_ERRORS
    from todo.errors import DatabaseUnavailable

    unreachable: tuple[type[BaseException], ...] = (DatabaseUnavailable, *CONNECTION_ERRORS)
    try:
        yield
    except unreachable as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise SystemExit(f"todo: cannot reach Postgres at {_address(url)}: {reason}") from None


def _address(url: str) -> str:
    """host:port of a database URL, without the credentials."""
    parts = urlsplit(url)
    try:
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    except ValueError:  # several hosts, as libpq allows: name them as given
        return parts.netloc.rpartition("@")[2]


def cmd_dev(args: argparse.Namespace) -> int:
    import uvicorn

    from realtime.__main__ import WEBSOCKET_OPTIONS
    from todo.bus import LocalBus
    from todo.clock import SystemClock
    from todo.db import Database
    from todo.errors import NotConfigured
    from todo.migrations import migrate
    from todo.runtime import configure
    from todo.tokens import check_config
    from todo_cli import dev

    dev.refuse_taken_port(args.host, args.port)
    settings = Settings.from_env()
    with _database(settings) as (url, description):
        settings = settings.with_changes(
            database_url=url,
            jwt_secret=settings.jwt_secret or dev.dev_secret(settings.data_dir),
            function_name="todo-dev",
            cors_allowed_origins=(
                *settings.cors_allowed_origins,
                *dev.own_origins(args.host, args.port),
            ),
        )
        try:
            check_config(settings)
        except NotConfigured as exc:
            raise SystemExit(f"todo dev: {exc}") from None
        asyncio.run(migrate(url))
        database, clock = Database(settings), SystemClock()
        bus = LocalBus(database, clock, dev.delivery_retry())
        configure(settings, clock=clock, database=database, publisher=bus)
        stack = dev.Stack()
        stack.wire(bus)
        stack.tick_interval = args.tick_interval
        base = f"http://{args.host}:{args.port}"
        print(dev.banner(base, description, args.tick_interval, stack.web.built), flush=True)
        uvicorn.run(
            stack,
            host=args.host,
            port=args.port,
            log_config=None,
            access_log=False,
            **WEBSOCKET_OPTIONS,
        )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from todo.migrations import migrate

    settings = Settings.from_env()
    with _database(settings) as (url, description), _reporting_unreachable(url):
        applied = asyncio.run(migrate(url, statement_cache_size=settings.db_statement_cache_size))
    names = ", ".join(applied) or "none pending"
    print(f"applied {len(applied)} migration(s) to {description}: {names}")
    return 0


def _with_database(work: Callable[[Any], Awaitable[None]]) -> int:
    """Run `work(database)` against the configured database (DATABASE_URL or embedded)."""
    from todo.db import Database

    async def run(url: str) -> None:
        database = Database(Settings.from_env().with_changes(database_url=url))
        try:
            await work(database)
        finally:
            await database.close()

    with _database(Settings.from_env()) as (url, _), _reporting_unreachable(url):
        asyncio.run(run(url))
    return 0


def cmd_dlq_list(args: argparse.Namespace) -> int:
    from todo import dead_letters

    async def work(database: Any) -> None:
        async with database.transaction() as conn:
            letters = await dead_letters.recent(conn, args.limit)
        if not letters:
            print("no dead letters")
        for letter in letters:
            received = f"received {letter.received_count}x"
            replayed = f"replayed {letter.replay_count}x" if letter.replay_count else "not replayed"
            print(
                f"{letter.id}  {letter.last_received_at:%Y-%m-%d %H:%M:%S}  {letter.topic:<24} "
                f"{letter.event_type or '-':<26} {received:<14} {replayed:<14} {letter.reason}"
            )

    return _with_database(work)


def cmd_dlq_show(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from todo import dead_letters

    async def work(database: Any) -> None:
        async with database.transaction() as conn:
            letter = await dead_letters.get(conn, UUID(args.id))
        print(json.dumps(asdict(letter), indent=2, default=str))

    return _with_database(work)


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    from todo import dead_letters
    from todo.clock import SystemClock

    if not args.all and not args.id:
        raise SystemExit("give a dead letter id, or --all")

    async def work(database: Any) -> None:
        async with database.transaction() as conn:
            ids = await dead_letters.unreplayed(conn) if args.all else [UUID(args.id)]
            for letter_id in ids:
                outcome = await dead_letters.replay(conn, letter_id, SystemClock().now())
                print(f"{letter_id}: {outcome}")
        if ids:
            await _relay_through_a_sidecar(database)

    return _with_database(work)


async def _relay_through_a_sidecar(database: Any) -> None:
    """Run the relay now when a sidecar is at hand (DAPR_HTTP_PORT, as in any of the
    functions' pods); otherwise the tick's next look at the database sends what was queued."""
    from datetime import timedelta

    from todo.clock import SystemClock
    from todo.relay import relay_outbox

    settings = Settings.from_env()
    if not settings.dapr_url:
        print(
            "the tick's next look at the database relays it (within TICK_IDLE_LOOK_SECONDS); "
            "run this in a pod with a Dapr sidecar to send it now"
        )
        return
    from todo.dapr import DaprPublisher

    publisher = DaprPublisher(settings)
    try:
        relayed = await relay_outbox(
            database,
            publisher,
            SystemClock().now(),
            older_than=timedelta(seconds=settings.relay_after_seconds),
        )
    finally:
        await publisher.close()
    left = "" if relayed.complete else "; the sidecar refused some, the relay sends them later"
    print(f"relayed {relayed.sent} events through the sidecar{left}")


def cmd_outbox_status(args: argparse.Namespace) -> int:
    from todo.clock import SystemClock
    from todo.relay import backlog

    async def work(database: Any) -> None:
        left = await backlog(database, SystemClock().now())
        print(f"unpublished events: {left.unpublished}")
        print(f"oldest unpublished: {left.oldest_seconds:.0f} s ago")

    return _with_database(work)


def openapi_document() -> dict[str, Any]:
    import functions
    from todo import openapi

    apis = [functions.load(name).api for name in functions.FUNCTIONS]
    return openapi.build(apis, version("todo-functions"))


def render_openapi() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=False) + "\n"


def cmd_openapi(args: argparse.Namespace) -> int:
    from todo import openapi

    target = openapi.DOCUMENT_PATH
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
