"""Repeating tasks end to end: complete one, and exactly one next instance appears, at the
right wall-clock time, with its reminders moved along, however the event is delivered."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import Account, MakeUser, settle
from tests.rrule_work import periods_walked
from todo import recurring
from todo.models import INSTANT_RANGE
from todo.recurrence import MAX_COUNT, MAX_SKIPPED, NextInstance, next_instance
from todo.recurring import next_instance_id
from todo.runtime import Runtime
from todo_cli.dev import Stack, call_app

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)


async def tasks_of(client: httpx.AsyncClient, account: Account) -> list[dict[str, Any]]:
    page = await client.get(
        "/api/tasks", params={"sort": "due_at", "limit": 200}, headers=account.headers
    )
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def test_completing_a_weekly_task_creates_exactly_one_next_instance(
    client: httpx.AsyncClient, make_user: MakeUser, rt: Runtime
) -> None:
    carol = await make_user("carol@example.com", timezone="Europe/Berlin")
    # Monday 23 March 2026, 09:00 in Berlin (winter time); the next one falls after the
    # switch to summer time on 29 March and must still be at 09:00.
    due = datetime(2026, 3, 23, 9, 0, tzinfo=BERLIN)
    created = await client.post(
        "/api/tasks",
        json={
            "title": "Weekly review",
            "priority": "high",
            "tags": ["work"],
            "due_at": due.isoformat(),
            "recurrence": "weekly",
            "reminders": [{"before": "PT15M", "message": "prepare"}],
        },
        headers=carol.headers,
    )
    task = created.json()
    await settle(rt)
    done = await client.post(f"/api/tasks/{task['id']}/complete", headers=carol.headers)
    assert done.status_code == 200
    await settle(rt)

    all_tasks = await tasks_of(client, carol)
    assert len(all_tasks) == 2
    following = next(t for t in all_tasks if t["id"] != task["id"])
    assert following["id"] == str(next_instance_id(uuid.UUID(task["id"])))
    local_due = datetime.fromisoformat(following["due_at"]).astimezone(BERLIN)
    assert local_due == datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)
    assert following["due_at"] == "2026-03-30T07:00:00Z"  # summer time: UTC+2
    assert (following["title"], following["priority"], following["tags"]) == (
        "Weekly review",
        "high",
        ["work"],
    )
    assert following["status"] == "pending"
    assert following["recurrence"] == task["recurrence"]

    reminders = (
        await client.get(
            "/api/reminders", params={"task_id": following["id"]}, headers=carol.headers
        )
    ).json()["items"]
    assert [(r["remind_at"], r["before"], r["message"]) for r in reminders] == [
        ("2026-03-30T06:45:00Z", "PT15M", "prepare")
    ]
    feed = (await client.get("/api/sync", headers=carol.headers)).json()["events"]
    created_events = [e for e in feed if e["type"] == "todo.task.created"]
    assert [e["subject"] for e in created_events] == [task["id"], following["id"]]
    assert created_events[1]["source"] == "/functions/process_event"


async def test_a_completion_delivered_three_times_and_out_of_order_makes_one_instance(
    client: httpx.AsyncClient, make_user: MakeUser, rt: Runtime, stack: Stack
) -> None:
    dave = await make_user("dave@example.com", timezone="America/New_York")
    task = (
        await client.post(
            "/api/tasks",
            json={
                "title": "Water plants",
                "due_at": "2026-03-02T14:00:00Z",
                "recurrence": "weekly",
            },
            headers=dave.headers,
        )
    ).json()
    await client.post(f"/api/tasks/{task['id']}/complete", headers=dave.headers)
    # Reopened and completed again: a second, different completion event.
    await client.post(f"/api/tasks/{task['id']}/reopen", headers=dave.headers)
    await client.post(f"/api/tasks/{task['id']}/complete", headers=dave.headers)
    await settle(rt)

    feed = (await client.get("/api/sync", headers=dave.headers)).json()["events"]
    completions = [e for e in feed if e["type"] == "todo.task.completed"]
    creation = next(
        e for e in feed if e["type"] == "todo.task.created" and e["subject"] == task["id"]
    )
    assert len(completions) == 2
    # Deliver again, newest first, each completion three times, the creation last.
    for event in [*reversed(completions * 3), creation]:
        status, _ = await call_app(
            stack.app("process_event"),
            "POST",
            "/events",
            json.dumps(event).encode(),
            {"content-type": "application/cloudevents+json"},
        )
        assert status == 200
    await settle(rt)

    instances = [t for t in await tasks_of(client, dave) if t["id"] != task["id"]]
    assert len(instances) == 1
    assert instances[0]["due_at"] == "2026-03-09T13:00:00Z"  # still 09:00 in New York, now EDT
    async with rt.database.transaction() as conn:
        audited = await conn.fetch(
            "select type from audit_log where subject = $1 order by occurred_at, id", task["id"]
        )
    # created, completed, reopened, completed: each once, despite the repeats.
    assert [r["type"] for r in audited] == [
        "todo.task.created",
        "todo.task.completed",
        "todo.task.updated",
        "todo.task.completed",
    ]


async def test_a_series_with_count_ends(
    client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    first = (
        await client.post(
            "/api/tasks",
            json={
                "title": "Three times",
                "due_at": "2026-03-03T08:00:00Z",
                "recurrence": {"rrule": "FREQ=DAILY;COUNT=3", "timezone": "UTC"},
            },
            headers=alice.headers,
        )
    ).json()
    current = first
    for _ in range(5):
        await client.post(f"/api/tasks/{current['id']}/complete", headers=alice.headers)
        await settle(rt)
        pending = [t for t in await tasks_of(client, alice) if t["status"] == "pending"]
        if not pending:
            break
        current = pending[0]
    all_tasks = await tasks_of(client, alice)
    assert [t["due_at"] for t in all_tasks] == [
        "2026-03-03T08:00:00Z",
        "2026-03-04T08:00:00Z",
        "2026-03-05T08:00:00Z",
    ]
    assert [t["recurrence"]["rrule"] for t in all_tasks] == [
        "FREQ=DAILY;COUNT=3",
        "FREQ=DAILY;COUNT=2",
        "FREQ=DAILY;COUNT=1",
    ]


async def test_completing_a_task_that_does_not_repeat_creates_nothing(
    client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    task = (await client.post("/api/tasks", json={"title": "once"}, headers=alice.headers)).json()
    await client.post(f"/api/tasks/{task['id']}/complete", headers=alice.headers)
    await settle(rt)
    assert len(await tasks_of(client, alice)) == 1


async def test_a_recurring_task_announces_its_recurrence(
    client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    task = (
        await client.post(
            "/api/tasks",
            json={
                "title": "standup",
                "due_at": "2026-03-03T08:00:00Z",
                "recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=MO,WE,FR"},
            },
            headers=alice.headers,
        )
    ).json()
    feed = (await client.get("/api/sync", headers=alice.headers)).json()["events"]
    announced = [e for e in feed if e["type"] == "todo.recurrence.created"]
    assert len(announced) == 1
    assert announced[0]["data"] == {
        "task_id": task["id"],
        "recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=MO,WE,FR", "timezone": None, "mode": "due"},
    }


# --- Rules whose next instance would take long to find ---------------------------------


def completion_event(account: Account, task: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A todo.task.completed event for `task` as stored, with `changes` to its fields."""
    completed = {
        **task,
        "status": "completed",
        "completed_at": "2026-03-02T09:30:00Z",
        "version": task["version"] + 1,
        **changes,
    }
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": "todo.task.completed",
        "source": "/functions/update_task",
        "subject": task["id"],
        "time": "2026-03-02T09:30:00Z",
        "datacontenttype": "application/json",
        "userid": str(account.id),
        "data": {"task": completed},
    }


async def deliver(stack: Stack, event: dict[str, Any]) -> tuple[int, Any]:
    status, raw = await call_app(
        stack.app("process_event"),
        "POST",
        "/events",
        json.dumps(event).encode(),
        {"content-type": "application/cloudevents+json"},
    )
    return status, json.loads(raw) if raw else None


async def hourly_task(client: httpx.AsyncClient, account: Account, rule: str) -> dict[str, Any]:
    created = await client.post(
        "/api/tasks",
        json={
            "title": "Since 1500",
            "due_at": "2026-03-02T08:00:00Z",
            "recurrence": {"rrule": rule, "timezone": "UTC"},
        },
        headers=account.headers,
    )
    assert created.status_code == 201, created.text
    task: dict[str, Any] = created.json()
    return task


async def test_a_completion_of_an_hourly_task_due_in_1500_makes_the_next_hour_at_once(
    client: httpx.AsyncClient,
    alice: Account,
    rt: Runtime,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    task = await hourly_task(client, alice, "FREQ=HOURLY")
    event = completion_event(alice, task, due_at="1500-01-02T00:00:00Z")
    with periods_walked(monkeypatch, budget=10_000) as periods:
        assert await deliver(stack, event) == (200, {"status": "SUCCESS"})
    assert periods.walked < 100  # walking from 1500 took 4.6 million, and 31 s
    await settle(rt)
    following = [t for t in await tasks_of(client, alice) if t["id"] != task["id"]]
    assert [(t["id"], t["due_at"]) for t in following] == [
        (str(next_instance_id(uuid.UUID(task["id"]))), "2026-03-02T10:00:00Z")
    ]


async def test_counting_a_billion_hourly_occurrences_since_1500_is_dead_lettered_with_why(
    client: httpx.AsyncClient,
    alice: Account,
    rt: Runtime,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The rule of issue 9, stored before COUNT was limited (the API now refuses it).
    task = await hourly_task(client, alice, "FREQ=HOURLY")
    rule = "FREQ=HOURLY;COUNT=1000000000"
    event = completion_event(
        alice, task, due_at="1500-01-02T00:00:00Z", recurrence={**task["recurrence"], "rrule": rule}
    )
    with periods_walked(monkeypatch, budget=3 * MAX_SKIPPED) as periods:
        assert await deliver(stack, event) == (200, {"status": "SUCCESS"})
    assert periods.walked <= MAX_SKIPPED + 100
    await settle(rt)
    async with rt.database.transaction() as conn:
        letter = await conn.fetchrow(
            "select topic, subscriber, reason from dead_letters where event_id = $1", event["id"]
        )
        audited = await conn.fetchval(
            "select count(*) from audit_log where event_id = $1", event["id"]
        )
    assert letter is not None
    assert (letter["topic"], letter["subscriber"]) == ("task.events", "recurrence")
    assert f"more than {MAX_SKIPPED} skipped occurrences" in letter["reason"]
    assert rule in letter["reason"]
    assert audited == 1  # the audit log, another consumer of the same event, is unharmed
    assert [t["id"] for t in await tasks_of(client, alice)] == [task["id"]]


async def test_other_requests_are_answered_while_a_next_instance_is_computed(
    client: httpx.AsyncClient,
    alice: Account,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The computation holds until /health has been answered: on the event loop it could
    # not be, and the wait gives up (the delivery fails) instead of the test hanging.
    started, answered = threading.Event(), threading.Event()

    def computing(*args: Any) -> NextInstance | None:
        started.set()
        if not answered.wait(timeout=10):
            raise AssertionError("/health was not answered while the next instance was computed")
        return next_instance(*args)

    monkeypatch.setattr(recurring, "next_instance", computing)
    task = await hourly_task(client, alice, "FREQ=HOURLY")
    delivery = asyncio.create_task(deliver(stack, completion_event(alice, task)))
    assert await asyncio.to_thread(started.wait, 10)
    health, _ = await call_app(stack.app("process_event"), "GET", "/health")
    assert health == 200
    answered.set()
    assert await delivery == (200, {"status": "SUCCESS"})


async def test_a_rule_given_now_keeps_count_and_until_within_limits(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for rule, message in [
        (f"FREQ=DAILY;COUNT={MAX_COUNT + 1}", f"COUNT must be at most {MAX_COUNT}"),
        ("FREQ=DAILY;UNTIL=18991231T000000Z", f"UNTIL must be {INSTANT_RANGE}"),
    ]:
        refused = await client.post(
            "/api/tasks",
            json={"title": "too long", "recurrence": {"rrule": rule}},
            headers=alice.headers,
        )
        assert refused.status_code == 422
        assert [(e["field"], message in e["message"]) for e in refused.json()["errors"]] == [
            ("recurrence.rrule", True)
        ]


async def test_a_series_stored_before_the_limits_stays_readable_and_goes_on(
    client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    task = await hourly_task(client, alice, "FREQ=HOURLY")
    async with rt.database.transaction() as conn:
        await conn.execute(
            "update tasks set recurrence = $2 where id = $1",
            uuid.UUID(task["id"]),
            {"rrule": "FREQ=HOURLY;COUNT=1000000", "timezone": "UTC", "mode": "due"},
        )
    read = await client.get(f"/api/tasks/{task['id']}", headers=alice.headers)
    assert read.status_code == 200
    assert read.json()["recurrence"]["rrule"] == "FREQ=HOURLY;COUNT=1000000"
    await client.post(f"/api/tasks/{task['id']}/complete", headers=alice.headers)
    await settle(rt)
    [following] = [t for t in await tasks_of(client, alice) if t["id"] != task["id"]]
    # The completion came after some hours had passed; each of them counts.
    elapsed = datetime.fromisoformat(following["due_at"]) - datetime.fromisoformat(task["due_at"])
    assert following["recurrence"]["rrule"] == f"FREQ=HOURLY;COUNT={1000000 - elapsed // HOUR}"
