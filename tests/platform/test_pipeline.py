"""Events through the real daprd and broker: create → process_event, completion of a
repeating task, the cron binding → tick → notify → both realtime instances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from stack.platform import PlatformStack
from tests.platform.conftest import Api, eventually, pushed, pushed_nothing, websocket


async def test_a_created_task_reaches_the_audit_log(api: Api, db: asyncpg.Connection) -> None:
    user = await api.register()
    task = await api.create_task(user, title="through the sidecar")

    async def audited() -> Any:
        return await db.fetch(
            "select a.type, e.seq from audit_log a join events e on e.id::text = a.event_id"
            " where a.subject = $1 order by a.id",
            task["id"],
        )

    rows = await eventually(audited, "audit row")
    assert [(r["type"], r["seq"]) for r in rows] == [("todo.task.created", 1)]


async def test_completing_a_repeating_task_creates_exactly_one_next(
    api: Api, db: asyncpg.Connection
) -> None:
    user = await api.register()
    task = await api.create_task(
        user, title="water plants", due_at="2030-01-01T09:00:00Z", recurrence="daily"
    )
    await api.update_task(user, task, status="completed")

    async def next_instance() -> Any:
        return await db.fetch(
            "select due_at from tasks where user_id = $1 and status = 'pending'", user.id
        )

    rows = await eventually(next_instance, "next instance")
    assert [r["due_at"] for r in rows] == [datetime(2030, 1, 2, 9, tzinfo=UTC)]
    assert await db.fetchval("select count(*) from tasks where user_id = $1", user.id) == 2


async def test_a_due_reminder_reaches_both_realtime_instances_and_no_one_else(
    platform: PlatformStack, api: Api, db: asyncpg.Connection
) -> None:
    alice, bob = await api.register(), await api.register()
    first, second = platform.realtime()
    alice_sockets = [await websocket(first.url, alice), await websocket(second.url, alice)]
    bob_socket = await websocket(first.url, bob)
    soon = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    task = await api.create_task(
        alice, title="call the bank", reminders=[{"remind_at": soon.isoformat()}]
    )

    kinds = {"reminder.due", "notification.created"}
    for socket in alice_sockets:
        events = await pushed(socket, 2, kinds)
        assert [e["type"] for e in events] == ["reminder.due", "notification.created"]
        assert events[0]["seq"] < events[1]["seq"]
        assert events[0]["data"]["task"]["id"] == task["id"]
        assert events[1]["data"]["notification"]["task_id"] == task["id"]
    notifications = await db.fetch("select title from notifications where user_id = $1", alice.id)
    assert len(notifications) == 1
    assert await pushed_nothing(bob_socket, kinds)
    for socket in [*alice_sockets, bob_socket]:
        await socket.close()
