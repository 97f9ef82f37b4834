"""Fixtures: a real Postgres (embedded, or TEST_DATABASE_URL), a migrated database per run,
a clean slate per test, the `todo dev` app behind an httpx client, and users with tokens."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from stack import isolation
from todo import embedded_postgres
from todo.bus import LocalBus
from todo.clock import ManualClock
from todo.db import Database
from todo.migrations import migrate
from todo.runtime import Runtime, configure
from todo.runtime import runtime as current_runtime
from todo.settings import Settings
from todo_cli.dev import Stack, delivery_retry

PLATFORM_TESTS = Path(__file__).resolve().parent / "platform"
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
JWT_SECRET = "tests-only-secret-" + "0123456789abcdef" * 4
PASSWORD = "correct horse battery staple"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run in which no test passed is a failure, even if nothing failed."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if exitstatus == 0 and reporter is not None and not reporter.stats.get("passed"):
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/platform needs a network namespace of its own: `task test:platform` gives it one."""
    if collection_path == PLATFORM_TESTS and not isolation.isolated():
        return True
    return None


@pytest.fixture
def promtool() -> str:
    """promtool from Debian's prometheus package, which .ci/run installs. Without it the test
    is skipped with the reason; in CI (`CI` set) it fails instead, because there a skip would
    let a rule or a scrape configuration that Prometheus refuses land unseen."""
    found = shutil.which("promtool")
    if found is None:
        message = "promtool is not installed (apt-get install prometheus)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Postgres server: TEST_DATABASE_URL's, or an embedded one for this run."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    server = embedded_postgres.start(tmp_path_factory.mktemp("postgres"))
    yield server.get_uri()
    server.cleanup()


@asynccontextmanager
async def scratch_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A new, empty database on the server, dropped when the block ends."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'create database "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A fresh database on that server, migrated, dropped after the run."""
    async with scratch_database(server_url, "todo_test") as url:
        await migrate(url)
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        jwt_secret=JWT_SECRET,
        db_pool_max=8,
        data_dir=Path(tmp_path_factory.mktemp("data")),
        function_name="tests",
    )


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.close()


@pytest.fixture(scope="session")
async def table_names(database_url: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "select tablename from pg_tables where schemaname = 'public' "
            "and tablename <> 'schema_migrations'"
        )
    finally:
        await conn.close()
    return [r["tablename"] for r in rows]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def rt(
    settings: Settings,
    database: Database,
    clock: ManualClock,
    table_names: list[str],
    stack: Stack,
) -> AsyncIterator[Runtime]:
    """A clean database and a runtime wired to it, the manual clock and the local bus."""
    async with database.transaction() as conn:
        await conn.execute(f"truncate {', '.join(table_names)} cascade")
    bus = LocalBus(database, clock, delivery_retry())
    runtime = configure(settings, clock=clock, database=database, publisher=bus)
    stack.wire(bus)
    yield runtime
    # A test may have wired its own runtime on top; stop both publishers.
    for wired in {id(runtime): runtime, id(current_runtime()): current_runtime()}.values():
        await wired.outgoing.close()
    # Deliveries still under way would go on into the next test, and hold up its truncate.
    await bus.close()


def rewire(rt: Runtime, *, publisher: Any = None, database: Any = None, **changes: Any) -> Runtime:
    """The test's runtime with some parts or settings swapped; the clock stays."""
    return configure(
        rt.settings.with_changes(**changes),
        clock=rt.clock,
        database=database or rt.database,
        publisher=publisher or rt.publisher,
    )


async def settle(rt: Runtime) -> None:
    """Wait until every event so far is published and delivered, and whatever those
    deliveries published in turn."""
    bus = rt.publisher
    for _ in range(50):
        await rt.outgoing.drain()
        if isinstance(bus, LocalBus):
            await bus.drain()
        if rt.outgoing.idle and (not isinstance(bus, LocalBus) or bus.idle):
            return
    raise AssertionError("events kept coming")


@pytest.fixture(scope="session")
def stack() -> Stack:
    """Every function, as `todo dev` runs them."""
    return Stack()


@pytest.fixture
async def client(rt: Runtime, stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=stack)
    async with httpx.AsyncClient(transport=transport, base_url="http://todo.test") as c:
        yield c


@dataclass
class Account:
    id: uuid.UUID
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


MakeUser = Callable[..., Awaitable[Account]]


@pytest.fixture
def make_user(client: httpx.AsyncClient) -> MakeUser:
    async def make(email: str | None = None, timezone: str = "UTC") -> Account:
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
        response = await client.post(
            "/api/auth/register", json={"email": email, "password": PASSWORD, "timezone": timezone}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return Account(uuid.UUID(body["user"]["id"]), email, body["access_token"])

    return make


@pytest.fixture
async def alice(make_user: MakeUser) -> Account:
    return await make_user("alice@example.com")


@pytest.fixture
async def bob(make_user: MakeUser) -> Account:
    return await make_user("bob@example.com")


CreateTask = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def create_task(client: httpx.AsyncClient) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def create(account: Account, **fields: Any) -> dict[str, Any]:
        fields.setdefault("title", "a task")
        response = await client.post("/api/tasks", json=fields, headers=account.headers)
        assert response.status_code == 201, response.text
        task: dict[str, Any] = response.json()
        return task

    return create
