"""The tick: due reminders delivered once (also with two ticks at once), notifications made
from them, and the relay publishing what the after-commit path could not."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx

from tests.conftest import Account, rewire, settle
from todo.clock import ManualClock
from todo.events import Event
from todo.runtime import Runtime
from todo_cli.dev import Stack, call_app


async def tick(stack: Stack) -> dict[str, Any]:
    status, body = await stack.tick()
    assert status == 200, body
    result: dict[str, Any] = json.loads(body)
    return result


async def feed_types(client: httpx.AsyncClient, account: Account) -> list[str]:
    feed = (await client.get("/api/sync", params={"limit": 1000}, headers=account.headers)).json()
    return [e["type"] for e in feed["events"]]


async def test_a_reminder_a_minute_ahead_is_delivered_once_as_a_notification(
    client: httpx.AsyncClient, alice: Account, clock: ManualClock, stack: Stack, rt: Runtime
) -> None:
    in_a_minute = (clock.now() + timedelta(minutes=1)).isoformat()
    task = (
        await client.post(
            "/api/tasks",
            json={
                "title": "stretch",
                "reminders": [{"remind_at": in_a_minute, "message": "stand up"}],
            },
            headers=alice.headers,
        )
    ).json()
    await settle(rt)

    assert (await tick(stack))["delivered"] == 0  # not yet due
    clock.advance(timedelta(seconds=61))
    result = await tick(stack)
    assert result["delivered"] == 1
    await settle(rt)
    assert (await tick(stack))["delivered"] == 0  # once only
    await settle(rt)

    notifications = (await client.get("/api/notifications", headers=alice.headers)).json()["items"]
    assert len(notifications) == 1
    assert notifications[0]["title"] == "stretch"
    assert notifications[0]["body"] == "stand up"
    assert notifications[0]["task_id"] == task["id"]
    assert notifications[0]["read_at"] is None

    types = await feed_types(client, alice)
    assert types.count("todo.reminder.due") == 1
    assert types.count("todo.notification.created") == 1
    reminders = (await client.get("/api/reminders", headers=alice.headers)).json()["items"]
    assert reminders[0]["delivered_at"] == clock.now().isoformat().replace("+00:00", "Z")


async def test_reminders_of_completed_tasks_are_not_announced(
    client: httpx.AsyncClient, alice: Account, clock: ManualClock, stack: Stack, rt: Runtime
) -> None:
    soon = (clock.now() + timedelta(minutes=5)).isoformat()
    task = (
        await client.post(
            "/api/tasks",
            json={"title": "done early", "reminders": [{"remind_at": soon}]},
            headers=alice.headers,
        )
    ).json()
    await client.post(f"/api/tasks/{task['id']}/complete", headers=alice.headers)
    clock.advance(timedelta(minutes=6))
    result = await tick(stack)
    assert (result["delivered"], result["skipped"]) == (0, 1)
    await settle(rt)
    assert "todo.reminder.due" not in await feed_types(client, alice)
    assert (await client.get("/api/notifications", headers=alice.headers)).json()["items"] == []


async def insert_due_reminders(rt: Runtime, users: Sequence[Account], count: int) -> None:
    """`count` reminders, due now, spread over the users' tasks (inserted directly: fast)."""
    now = rt.clock.now()
    async with rt.database.transaction() as conn:
        task_ids = []
        for account in users:
            task_id = uuid4()
            await conn.execute(
                "insert into tasks (id, user_id, title, created_at, updated_at) "
                "values ($1, $2, 't', $3, $3)",
                task_id,
                account.id,
                now,
            )
            task_ids.append((task_id, account.id))
        await conn.copy_records_to_table(
            "reminders",
            records=[
                (uuid4(), *task_ids[i % len(task_ids)], now - timedelta(seconds=i % 90), now)
                for i in range(count)
            ],
            columns=["id", "task_id", "user_id", "remind_at", "created_at"],
        )


async def test_two_concurrent_ticks_deliver_each_of_1000_reminders_exactly_once(
    client: httpx.AsyncClient, alice: Account, bob: Account, stack: Stack, rt: Runtime
) -> None:
    await insert_due_reminders(rt, [alice, bob], 1000)
    first, second = await asyncio.gather(tick(stack), tick(stack))
    assert first["delivered"] + second["delivered"] == 1000
    async with rt.database.transaction() as conn:
        undelivered = await conn.fetchval(
            "select count(*) from reminders where delivered_at is null"
        )
        announced = await conn.fetch(
            "select subject, count(*) as n from events "
            "where type = 'todo.reminder.due' group by subject"
        )
        seqs = await conn.fetch(
            "select user_id, array_agg(seq order by seq) as s from events group by user_id"
        )
    assert undelivered == 0
    assert len(announced) == 1000
    assert {r["n"] for r in announced} == {1}
    for row in seqs:  # still gapless per user after two ticks raced
        assert row["s"] == list(range(1, len(row["s"]) + 1))
    assert (await tick(stack))["delivered"] == 0


class OutOfReach:
    """A sidecar that is down: publishing fails, so events stay in the outbox."""

    relays_untaken = False  # the tick's relay is under test

    async def publish(self, events: Sequence[Event]) -> Sequence[UUID]:
        raise ConnectionError("sidecar unreachable")

    async def relay(self, events: Sequence[Event]) -> Sequence[UUID]:
        raise ConnectionError("sidecar unreachable")

    async def close(self) -> None:
        return None


async def test_the_relay_publishes_what_a_crash_left_behind(
    client: httpx.AsyncClient, alice: Account, clock: ManualClock, stack: Stack, rt: Runtime
) -> None:
    down = rewire(rt, publisher=OutOfReach())
    created = await client.post("/api/tasks", json={"title": "survives"}, headers=alice.headers)
    assert created.status_code == 201
    await down.outgoing.drain()

    # Back up: the bus is reachable again (the process restarted). Nothing tells the tick
    # what a dead process left: it finds it at its next look, here a minute apart.
    rewire(rt, tick_idle_look_seconds=60)
    young = await tick(stack)
    assert (young["looked"], young["relayed"], young["backlog"]) == (True, 0, 1)  # too young
    clock.advance(timedelta(seconds=11))
    assert not (await tick(stack))["looked"]
    clock.advance(timedelta(seconds=60))
    old = await tick(stack)
    assert (old["looked"], old["relayed"]) == (True, 0)  # the local bus marks events itself
    await settle(rt)
    assert (await tick(stack))["backlog"] == 0
    async with rt.database.transaction() as conn:
        audited = await conn.fetchval(
            "select count(*) from audit_log where type = 'todo.task.created'"
        )
    assert audited == 1


async def test_tick_answers_the_binding_probe_and_reports_the_backlog(
    stack: Stack, rt: Runtime
) -> None:
    status, _ = await call_app(stack.app("tick_reminders"), "OPTIONS", "/tick")
    assert status == 200
    result = await tick(stack)
    assert set(result) == {
        "looked",
        "delivered",
        "skipped",
        "relayed",
        "backlog",
        "oldest_unpublished_seconds",
    }


async def test_the_tick_route_takes_only_the_sidecar_when_a_token_is_set(
    stack: Stack, rt: Runtime
) -> None:
    rewire(rt, app_api_token="from-dapr")
    app = stack.app("tick_reminders")
    assert (await call_app(app, "POST", "/tick"))[0] == 401
    assert (await call_app(app, "POST", "/tick", headers={"dapr-api-token": "nope"}))[0] == 401
    assert (await call_app(app, "POST", "/tick", headers={"dapr-api-token": "from-dapr"}))[0] == 200
    # A PingSource CloudEvent works as well.
    ping = {
        "ce-specversion": "1.0",
        "ce-id": "p1",
        "ce-type": "dev.knative.sources.ping",
        "ce-source": "/ping",
        "dapr-api-token": "from-dapr",
    }
    assert (await call_app(app, "POST", "/tick", b"{}", ping))[0] == 200
