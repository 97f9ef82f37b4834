"""The database going away: 503 while it is gone, recovery without a restart, and a pool
that is lazy, sized by the environment, and shrugs off killed connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from tests.conftest import Account, rewire, settle
from tests.tcp_proxy import FlakyProxy
from tests.test_tick import tick
from todo.clock import ManualClock
from todo.db import Connection, Database
from todo.errors import DatabaseUnavailable
from todo.runtime import Runtime
from todo.settings import Settings
from todo_cli.dev import Stack


@pytest.fixture
async def proxy(rt: Runtime) -> AsyncIterator[FlakyProxy]:
    assert rt.settings.database_url
    flaky = FlakyProxy(rt.settings.database_url)
    await flaky.start()
    yield flaky
    await flaky.down()


async def test_database_down_is_503_and_the_function_recovers_when_it_returns(
    rt: Runtime, client: httpx.AsyncClient, alice: Account, proxy: FlakyProxy
) -> None:
    database = Database(rt.settings.with_changes(database_url=proxy.url, db_connect_timeout=2.0))
    rewire(rt, database=database, database_url=proxy.url)
    try:
        assert (await client.get("/api/tasks", headers=alice.headers)).status_code == 200

        await proxy.down()
        for request in (
            client.get("/api/tasks", headers=alice.headers),
            client.post("/api/tasks", json={"title": "t"}, headers=alice.headers),
        ):
            response = await request
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"] == "/problems/database-unavailable"
            assert response.headers["retry-after"] == "1"
        # The pod stays in rotation: probes do not ask the database (a blip would take
        # every pod out, and a probe a minute would keep a free Neon compute awake).
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/ready")).status_code == 200

        await proxy.up()
        created = await client.post("/api/tasks", json={"title": "after"}, headers=alice.headers)
        assert created.status_code == 201
    finally:
        await database.close()


async def test_a_database_down_at_cold_start_is_503_then_recovers(
    rt: Runtime, client: httpx.AsyncClient, alice: Account, proxy: FlakyProxy
) -> None:
    await proxy.down()
    database = Database(rt.settings.with_changes(database_url=proxy.url, db_connect_timeout=2.0))
    rewire(rt, database=database, database_url=proxy.url)
    try:
        assert (await client.get("/api/tasks", headers=alice.headers)).status_code == 503
        assert not database.pool_created
        await proxy.up()
        assert (await client.get("/api/tasks", headers=alice.headers)).status_code == 200
    finally:
        await database.close()


async def test_killed_connections_do_not_fail_the_next_request(
    rt: Runtime, client: httpx.AsyncClient, alice: Account
) -> None:
    for _ in range(3):  # put a few connections in the pool
        assert (await client.get("/api/tasks", headers=alice.headers)).status_code == 200
    assert rt.settings.database_url
    admin = await asyncpg.connect(rt.settings.database_url)
    try:
        killed = await admin.fetchval(
            """
            select count(pg_terminate_backend(pid)) from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid()
            """
        )
    finally:
        await admin.close()
    assert killed >= 1
    for _ in range(3):
        assert (await client.get("/api/tasks", headers=alice.headers)).status_code == 200
    assert (
        await client.post("/api/tasks", json={"title": "t"}, headers=alice.headers)
    ).status_code == 201


async def test_a_read_whose_connection_dies_runs_again_on_another(rt: Runtime) -> None:
    """Reads skip BEGIN, which used to find dead connections: the read itself does."""
    database = Database(rt.settings)
    attempts: list[int] = []

    async def count_tasks(conn: Connection) -> int:
        attempts.append(await conn.fetchval("select pg_backend_pid()"))
        if len(attempts) == 1:  # the server cuts this connection mid-read
            await conn.fetchval("select pg_terminate_backend(pg_backend_pid())")
        count: int = await conn.fetchval("select count(*) from tasks")
        return count

    try:
        assert await database.read(count_tasks) == 0
        assert len(attempts) == 2
        assert attempts[0] != attempts[1]
    finally:
        await database.close()


async def test_a_read_that_times_out_is_503_and_not_run_again(rt: Runtime) -> None:
    database = Database(rt.settings.with_changes(db_command_timeout=0.2))
    attempts: list[None] = []

    async def slow(conn: Connection) -> None:
        attempts.append(None)
        await conn.execute("select pg_sleep(5)")

    try:
        with pytest.raises(DatabaseUnavailable):
            await database.read(slow)
        assert len(attempts) == 1
    finally:
        await database.close()


async def test_the_pool_is_created_on_first_use_and_sized_by_the_environment(
    rt: Runtime, client: httpx.AsyncClient, alice: Account
) -> None:
    settings = Settings.from_env(
        {"DATABASE_URL": rt.settings.database_url or "", "DB_POOL_MAX": "3", "JWT_SECRET": "x"}
    )
    assert settings.db_pool_max == 3
    database = Database(settings.with_changes(jwt_secret=rt.settings.jwt_secret))
    rewire(rt, database=database)
    try:
        assert not database.pool_created
        assert (await client.get("/api/tasks", headers=alice.headers)).status_code == 200
        assert database.pool_created
        assert (await database.pool()).get_max_size() == 3
    finally:
        await database.close()


def test_settings_reject_a_malformed_number() -> None:
    with pytest.raises(ValueError, match="DB_POOL_MAX"):
        Settings.from_env({"DB_POOL_MAX": "lots"})


async def test_a_new_connection_asks_the_server_about_no_types(
    rt: Runtime,
    client: httpx.AsyncClient,
    alice: Account,
    stack: Stack,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """asyncpg looks up every enum and most array types once per connection (three round
    trips): paid by a cold start's first request and by each connection the pool adds.
    Every path of a task's life runs on connections that never need to."""
    looked_up: list[object] = []
    introspect = asyncpg.Connection._introspect_types  # type: ignore[attr-defined]

    async def recording(self: asyncpg.Connection, type_oids: object, *rest: object) -> object:
        looked_up.append(type_oids)
        return await introspect(self, type_oids, *rest)

    monkeypatch.setattr(asyncpg.Connection, "_introspect_types", recording)
    database = Database(rt.settings)
    rewire(rt, database=database)
    try:
        soon = (clock.now() + timedelta(minutes=1)).isoformat()
        created = await client.post(
            "/api/tasks",
            json={
                "title": "water the plants",
                "priority": "high",
                "tags": ["home"],
                "due_at": soon,
                "reminders": [{"before": "PT0S"}],
                "recurrence": "weekly",
            },
            headers=alice.headers,
        )
        assert created.status_code == 201, created.text
        task = created.json()
        for sort in ("priority", "-priority"):
            listed = await client.get(
                "/api/tasks",
                params={"sort": sort, "status": "pending", "priority": "high", "limit": 1},
                headers=alice.headers,
            )
            assert [t["id"] for t in listed.json()["items"]] == [task["id"]]
        patched = await client.patch(
            f"/api/tasks/{task['id']}", json={"priority": "low"}, headers=alice.headers
        )
        assert patched.json()["priority"] == "low"
        clock.advance(timedelta(minutes=2))
        assert (await tick(stack))["delivered"] == 1
        done = await client.post(f"/api/tasks/{task['id']}/complete", headers=alice.headers)
        assert done.json()["status"] == "completed"
        await settle(rt)
        assert (
            await client.get("/api/search", params={"q": "plants"}, headers=alice.headers)
        ).json()["items"]
    finally:
        await database.close()
    assert looked_up == []


async def test_connections_killed_under_load_answer_503_never_500(
    rt: Runtime, client: httpx.AsyncClient, alice: Account
) -> None:
    """As when Postgres shuts down: backends terminated while requests are mid-transaction.
    asyncpg reports some of those as InternalClientError ("cannot switch to state 12")."""
    assert rt.settings.database_url
    admin = await asyncpg.connect(rt.settings.database_url)
    statuses: list[int] = []

    async def requests(worker: int) -> None:
        for i in range(20):
            if i % 2:
                response = await client.get("/api/tasks", headers=alice.headers)
            else:
                response = await client.post(
                    "/api/tasks", json={"title": f"{worker}-{i}"}, headers=alice.headers
                )
            statuses.append(response.status_code)

    async def terminate_backends() -> None:
        while len(statuses) < 240:
            await admin.execute(
                """
                select pg_terminate_backend(pid) from pg_stat_activity
                where datname = current_database() and pid <> pg_backend_pid()
                """
            )
            await asyncio.sleep(0.02)

    try:
        await asyncio.gather(terminate_backends(), *(requests(w) for w in range(12)))
    finally:
        await admin.close()
    assert set(statuses) <= {200, 201, 503}, sorted(set(statuses))
    assert len(statuses) == 240
    assert {200, 201} & set(statuses)  # and it kept serving between the cuts


async def test_a_connection_asyncpg_gave_up_on_mid_transaction_is_503(
    rt: Runtime,
) -> None:
    async def broken_mid_transaction() -> None:
        async with rt.database.transaction() as conn:
            await conn.fetchval("select 1")
            raise asyncpg.InternalClientError("cannot switch to state 12; another operation")

    with pytest.raises(DatabaseUnavailable):
        await broken_mid_transaction()
    async with rt.database.transaction() as conn:  # the pool serves the next one
        assert await conn.fetchval("select 1") == 1
