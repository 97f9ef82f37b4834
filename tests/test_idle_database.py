"""An idle deployment sends Postgres nothing, so a free Neon compute can suspend: ten quiet
minutes of ticks and readiness probes make no statement, and the one reminder due among
them is still delivered in its minute.

Statements are counted where Postgres logs them: `log_statement = all` for the test's
database (new sessions only, so the pool is reopened), read back from the embedded server's
log file. A TEST_DATABASE_URL server's log is out of reach: the test is skipped there.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from tests.conftest import Account, settle
from tests.postgres_log import StatementLog
from todo.clock import ManualClock
from todo.runtime import Runtime
from todo_cli.dev import Stack


@pytest.fixture
async def server_log(server_url: str, rt: Runtime) -> AsyncIterator[StatementLog]:
    admin = await asyncpg.connect(server_url)
    name = urlsplit(rt.database.url).path.lstrip("/")
    try:
        try:
            await admin.fetchval("select pg_read_file('log', 0, 1)")
        except (asyncpg.PostgresError, OSError) as exc:
            pytest.skip(f"the server's log cannot be read here: {exc}")
        await admin.execute(f"alter database \"{name}\" set log_statement = 'all'")
        await rt.database.close()  # the pool's next sessions log their statements
        # Read through a session on another database, whose statements are not logged.
        log = StatementLog(admin)
        await log.statements()
        yield log
    finally:
        await admin.execute(f'alter database "{name}" reset log_statement')
        await rt.database.close()
        await admin.close()


async def test_ten_idle_minutes_send_postgres_nothing_and_the_reminder_comes_in_its_minute(
    client: httpx.AsyncClient,
    alice: Account,
    clock: ManualClock,
    stack: Stack,
    rt: Runtime,
    server_log: StatementLog,
) -> None:
    start = clock.now()
    created = await client.post(
        "/api/tasks",
        json={
            "title": "call the dentist",
            "due_at": (start + timedelta(minutes=8)).isoformat(),
            "reminders": [{"before": "PT1M"}],
        },
        headers=alice.headers,
    )
    assert created.status_code == 201
    await settle(rt)
    first = json.loads((await stack.tick())[1])
    assert first["looked"]  # a fresh tick knows nothing yet and looks once
    await settle(rt)
    await server_log.statements()

    looked, statements = [], []
    for _minute in range(1, 11):
        clock.advance(timedelta(minutes=1))
        status, body = await stack.tick()
        assert status == 200
        assert (await client.get("/ready")).status_code == 200  # a probe, as Knative's
        assert (await client.get("/health")).status_code == 200
        await settle(rt)
        looked.append(json.loads(body)["looked"])
        statements.append(await server_log.statements())

    assert looked == [False] * 6 + [True] + [False] * 3
    assert [bool(s) for s in statements] == [False] * 6 + [True] + [False] * 3, statements[7:]
    notifications = await client.get("/api/notifications", headers=alice.headers)
    (notification,) = notifications.json()["items"]
    assert datetime.fromisoformat(notification["created_at"]) == start + timedelta(minutes=7)
