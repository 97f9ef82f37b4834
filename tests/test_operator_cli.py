"""`todo dlq ...` and `todo outbox status` as an operator runs them, against DATABASE_URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from uuid import UUID

import httpx

from tests.conftest import Account, settle
from todo import dead_letters
from todo.runtime import Runtime


def todo(database_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "todo_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_dead_letters_can_be_listed_shown_and_replayed(
    rt: Runtime, client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    await client.post("/api/tasks", json={"title": "x"}, headers=alice.headers)
    await settle(rt)
    async with rt.database.transaction() as conn:
        event_id = await conn.fetchval("select id from events")
        event = {
            "id": str(event_id),
            "type": "todo.task.created",
            "specversion": "1.0",
            "source": "/s",
        }
        ours = await dead_letters.store(
            conn, topic="task.events.dlq", reason="consumer broke", now=rt.clock.now(), event=event
        )
        foreign = await dead_letters.store(
            conn, topic="task.events", reason="not a CloudEvent", now=rt.clock.now(), raw=b"??"
        )
        await conn.execute("update events set published_at = now()")

    listed = todo(database_url, "dlq", "list")
    assert str(ours) in listed
    assert "consumer broke" in listed
    assert str(foreign) in listed

    shown = json.loads(todo(database_url, "dlq", "show", str(ours)))
    assert shown["event"]["id"] == str(event_id)
    assert shown["reason"] == "consumer broke"

    replayed = todo(database_url, "dlq", "replay", "--all")
    assert f"{ours}: queued for the relay" in replayed
    assert f"{foreign}: not replayable" in replayed
    async with rt.database.transaction() as conn:
        assert (
            await conn.fetchval("select published_at from events where id = $1", event_id) is None
        )

    status = todo(database_url, "outbox", "status")
    assert "unpublished events: 1" in status
    assert UUID(str(event_id))
