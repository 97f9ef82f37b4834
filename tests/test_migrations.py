"""`todo migrate`: in order, once each, recorded, one transaction per file, safe in parallel."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import scratch_database
from todo.migrations import MigrationError, load_migrations, migrate


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[str]:
    async with scratch_database(server_url, "todo_migrate") as url:
        yield url


async def test_migrations_apply_in_order_once_each(empty_database: str) -> None:
    first = await migrate(empty_database)
    assert first == [m.version for m in load_migrations()]
    assert first == sorted(first)
    assert await migrate(empty_database) == []
    conn = await asyncpg.connect(empty_database)
    try:
        recorded = [
            r["version"]
            for r in await conn.fetch("select version from schema_migrations order by version")
        ]
        tables = {
            r["tablename"]
            for r in await conn.fetch("select tablename from pg_tables where schemaname='public'")
        }
    finally:
        await conn.close()
    assert recorded == first
    assert {
        "users",
        "tasks",
        "events",
        "event_sequences",
        "idempotency_keys",
        "reminders",
    } <= tables


async def test_two_processes_migrating_at_once_apply_each_file_once(empty_database: str) -> None:
    results = await asyncio.gather(*[migrate(empty_database) for _ in range(4)])
    applied = sorted(v for result in results for v in result)
    assert applied == [m.version for m in load_migrations()]


async def test_a_failing_file_rolls_back_alone(empty_database: str, tmp_path: Path) -> None:
    (tmp_path / "001_good.sql").write_text("create table good (id int);")
    (tmp_path / "002_bad.sql").write_text("create table half (id int); select no_such_function();")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(empty_database, tmp_path)
    conn = await asyncpg.connect(empty_database)
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch("select tablename from pg_tables where schemaname='public'")
        }
        recorded = [r["version"] for r in await conn.fetch("select version from schema_migrations")]
    finally:
        await conn.close()
    assert "good" in tables
    assert "half" not in tables
    assert recorded == ["001"]


async def test_an_applied_file_that_changed_is_refused(empty_database: str, tmp_path: Path) -> None:
    path = tmp_path / "001_one.sql"
    path.write_text("create table one (id int);")
    await migrate(empty_database, tmp_path)
    path.write_text("create table one (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(empty_database, tmp_path)


def test_badly_named_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "first.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match=r"NNN_name\.sql"):
        load_migrations(tmp_path)


async def test_dead_letters_kept_twice_before_007_are_folded_into_one(
    empty_database: str, tmp_path: Path
) -> None:
    for migration in load_migrations():
        if migration.version < "007":
            (tmp_path / f"{migration.version}_{migration.name}.sql").write_text(migration.sql)
    await migrate(empty_database, tmp_path)
    conn = await asyncpg.connect(empty_database)
    try:
        insert = """
            insert into dead_letters (id, event_id, event_type, topic, subscriber, reason,
                                      raw, received_at, replayed_at, replay_count)
            values ($1, $2, 'todo.task.created', 'task.events', $3, $4, $5,
                    '2026-03-02T09:00:00Z'::timestamptz + $6 * interval '1 minute', $7, $8)
        """
        event_id = str(uuid.uuid4())
        replayed = datetime(2026, 3, 2, 9, 1, 30, tzinfo=UTC)
        first, second, third, other, body = (uuid.uuid4() for _ in range(5))
        await conn.execute(insert, first, event_id, "audit", "broke", None, 0, replayed, 1)
        await conn.execute(insert, second, event_id, "audit", "broke", None, 1, replayed, 1)
        await conn.execute(insert, third, event_id, "audit", "broke later", None, 2, None, 0)
        await conn.execute(insert, other, event_id, "recurrence", "broke", None, 0, None, 0)
        for n in range(2):
            await conn.execute(
                insert, body if n == 0 else uuid.uuid4(), None, None, "bad", "??", n, None, 0
            )

        await migrate(empty_database)
        rows = await conn.fetch(
            "select id, reason, received_count, last_received_at, replayed_at, replay_count "
            "from dead_letters order by received_at, subscriber nulls last"
        )
    finally:
        await conn.close()
    folded = {r["id"]: r for r in rows}
    assert set(folded) == {first, other, body}
    assert folded[first]["received_count"] == 3
    assert folded[first]["reason"] == "broke later"
    assert folded[first]["last_received_at"] == datetime(2026, 3, 2, 9, 2, tzinfo=UTC)
    assert folded[first]["replayed_at"] is None  # it came again after the replay
    assert folded[first]["replay_count"] == 1
    assert folded[other]["received_count"] == 1
    assert folded[body]["received_count"] == 2
