"""An idle stack sends Postgres nothing, the cron binding firing every second, and a
reminder still comes due on time: the tick learns when from the reminder's event, over
the real sidecars and broker.

Statements are read from the stack's Postgres log with `log_statement = all` (set for
every session by ALTER SYSTEM and a reload); the test's own session is left out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from stack.platform import PlatformStack
from tests.platform.conftest import Api, eventually
from tests.postgres_log import StatementLog

# What earlier tests set going ends first: a poison event's retries, Redis redelivering a
# message whose delivery outlasted the (shortened, 5 s) processing timeout.
SETTLED_SECONDS = 10.0


class ServerLog(StatementLog):
    async def quiet(self, seconds: float, within: float = 180.0) -> None:
        """Wait until `seconds` pass with no statement."""
        loop = asyncio.get_running_loop()
        deadline, quiet_since = loop.time() + within, loop.time()
        await self.statements()
        while loop.time() - quiet_since < seconds:
            assert loop.time() < deadline, "the stack never went quiet"
            await asyncio.sleep(0.5)
            if await self.statements():
                quiet_since = loop.time()


@pytest.fixture
async def server_log(db: asyncpg.Connection) -> AsyncIterator[ServerLog]:
    await db.execute("alter system set log_statement = 'all'")
    await db.execute("select pg_reload_conf()")
    try:
        yield ServerLog(db, ignore_pid=await db.fetchval("select pg_backend_pid()"))
    finally:
        await db.execute("alter system reset log_statement")
        await db.execute("select pg_reload_conf()")


async def test_an_idle_stack_sends_postgres_nothing_and_the_reminder_comes_on_time(
    platform: PlatformStack, api: Api, db: asyncpg.Connection, server_log: ServerLog
) -> None:
    alice = await api.register()
    await server_log.quiet(SETTLED_SECONDS)
    due = (datetime.now(UTC) + timedelta(seconds=20)).replace(microsecond=0)
    task = await api.create_task(alice, title="idle", reminders=[{"remind_at": due.isoformat()}])
    await server_log.quiet(3.0)  # the task's events have gone through every consumer

    idle = (due - timedelta(seconds=1) - datetime.now(UTC)).total_seconds()
    assert idle > 5, f"only {idle:.1f} s left to watch"
    await asyncio.sleep(idle)
    statements = await server_log.statements()
    assert statements == [], "\n".join(statements)  # a tick every second, none looked

    async def notified() -> datetime | None:
        moment: datetime | None = await db.fetchval(
            "select created_at from notifications where task_id = $1", task["id"]
        )
        return moment

    delivered = await eventually(notified, "notification")
    assert due <= delivered < due + timedelta(seconds=3)
