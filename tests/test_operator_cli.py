"""`todo dlq ...` and `todo outbox status` as an operator runs them, against DATABASE_URL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from uuid import UUID

import httpx
import pytest

from bench.harness import fake_sidecar, sidecar_log
from tests.conftest import Account, settle
from todo import dead_letters
from todo.runtime import Runtime


def run_todo(
    database_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "todo_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def todo(database_url: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = run_todo(database_url, *args, env=env)
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
    assert "the tick's next look at the database relays it" in replayed  # no sidecar here
    async with rt.database.transaction() as conn:
        assert (
            await conn.fetchval("select published_at from events where id = $1", event_id) is None
        )

    status = todo(database_url, "outbox", "status")
    assert "unpublished events: 1" in status
    assert UUID(str(event_id))

    # Next to a sidecar (in one of the functions' pods) the replay sends it at once.
    with fake_sidecar() as port:
        again = todo(database_url, "dlq", "replay", str(ours), env={"DAPR_HTTP_PORT": str(port)})
        taken = sidecar_log(port)
    assert "relayed 1 events through the sidecar" in again
    assert [e["id"] for e in taken] == [str(event_id)]
    assert "unpublished events: 0" in todo(database_url, "outbox", "status")


async def test_a_letter_delivered_again_is_one_row_counted_and_replayed_once(
    rt: Runtime, client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    await client.post("/api/tasks", json={"title": "x"}, headers=alice.headers)
    await settle(rt)
    async with rt.database.transaction() as conn:
        event_id = await conn.fetchval("select id from events")
        event = {"id": str(event_id), "type": "todo.task.created", "source": "/s"}
        letters = {
            await dead_letters.store(
                conn,
                topic="task.events",
                reason=f"broke {n}",
                now=rt.clock.now(),
                event=event,
                subscriber="audit",
            )
            for n in range(3)
        }
        other_subscriber = await dead_letters.store(
            conn,
            topic="task.events",
            reason="broke",
            now=rt.clock.now(),
            event=event,
            subscriber="recurrence",
        )
        bodies = {
            await dead_letters.store(
                conn, topic="task.events", reason="not JSON", now=rt.clock.now(), raw=b"??"
            )
            for _ in range(2)
        }
    assert len(letters) == 1
    (letter,) = letters
    assert other_subscriber != letter
    (body,) = bodies

    listed = todo(database_url, "dlq", "list").splitlines()
    (line,) = [x for x in listed if x.startswith(str(letter))]
    assert "received 3x" in line
    assert line.endswith("broke 2")  # the latest reason
    (line,) = [x for x in listed if x.startswith(str(body))]
    assert "received 2x" in line

    replayed = todo(database_url, "dlq", "replay", "--all")
    assert replayed.count("queued for the relay") == 1  # one event, however many letters
    assert todo(database_url, "dlq", "replay", "--all").count("queued") == 0

    async with rt.database.transaction() as conn:  # it failed again after the replay
        await dead_letters.store(
            conn,
            topic="task.events",
            reason="broke again",
            now=rt.clock.now(),
            event=event,
            subscriber="audit",
        )
    again = todo(database_url, "dlq", "replay", "--all")
    assert f"{letter}: queued for the relay" in again.splitlines()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "command",
    [
        ["outbox", "status"],
        ["dlq", "list"],
        ["dlq", "show", "6f1c7f0e-2b1d-4d5e-9a57-0c6e3b1f8d21"],
        ["dlq", "replay", "--all"],
        ["migrate"],
    ],
)
def test_an_unreachable_database_is_one_line_and_a_failure(command: list[str]) -> None:
    port = closed_port()
    done = run_todo(f"postgresql://todo:secret@127.0.0.1:{port}/todo", *command)
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"todo: cannot reach Postgres at 127.0.0.1:{port}: "), line
    assert "secret" not in line
