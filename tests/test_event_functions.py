"""The event functions over HTTP, as Dapr and Knative deliver to them: structured, binary
and KafkaSource-wrapped CloudEvents; repeats; events that can never succeed; outages."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import Account, CreateTask, rewire, settle
from tests.tcp_proxy import FlakyProxy
from todo.db import Database
from todo.runtime import Runtime
from todo_cli.dev import Stack, call_app


def task_event(
    account: Account, task: dict[str, Any], type: str = "todo.task.created", **extra: Any
) -> dict[str, Any]:
    """A task event as Dapr pushes it: our CloudEvent plus Dapr's own attributes."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": type,
        "source": "/functions/create_task",
        "subject": task["id"],
        "time": "2026-03-02T09:30:00Z",
        "datacontenttype": "application/json",
        "userid": str(account.id),
        "sequence": 1,
        "topic": "task.events",
        "pubsubname": "pubsub",
        "traceid": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "data": {"task": task},
        **extra,
    }


async def post(
    stack: Stack, fn: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, Any]:
    status, raw = await call_app(stack.app(fn), "POST", path, body, headers)
    return status, json.loads(raw) if raw else None


async def structured(
    stack: Stack, event: dict[str, Any], fn: str = "process_event", path: str = "/events"
) -> tuple[int, Any]:
    return await post(
        stack,
        fn,
        path,
        json.dumps(event).encode(),
        {"content-type": "application/cloudevents+json"},
    )


async def bulk(stack: Stack, entries: list[dict[str, Any]], fn: str = "process_event") -> Any:
    """A bulk delivery as daprd makes it (pkg/runtime/pubsub/bulksubscribe_events.go)."""
    envelope = {
        "id": str(uuid.uuid4()),
        "type": "com.dapr.event.sent.bulk",
        "topic": "task.events",
        "pubsubname": "pubsub",
        "metadata": {},
        "entries": entries,
    }
    return await post(
        stack, fn, "/events", json.dumps(envelope).encode(), {"content-type": "application/json"}
    )


def entry(event: Any, content_type: str = "application/cloudevents+json") -> dict[str, Any]:
    return {"entryId": str(uuid.uuid4()), "event": event, "contentType": content_type}


async def count(rt: Runtime, sql: str, *args: Any) -> int:
    async with rt.database.transaction() as conn:
        n: int = await conn.fetchval(sql, *args)
    return n


@pytest.fixture
async def task(create_task: CreateTask, alice: Account) -> dict[str, Any]:
    return await create_task(alice, title="audited")


async def test_a_structured_event_is_audited_once_however_often_it_arrives(
    stack: Stack, rt: Runtime, alice: Account, task: dict[str, Any]
) -> None:
    event = task_event(alice, task)
    for _ in range(3):
        status, body = await structured(stack, event)
        assert (status, body) == (200, {"status": "SUCCESS"})
    assert await count(rt, "select count(*) from audit_log where event_id = $1", event["id"]) == 1
    async with rt.database.transaction() as conn:
        row = await conn.fetchrow("select * from audit_log where event_id = $1", event["id"])
    assert row is not None
    assert (row["user_id"], row["type"], row["subject"]) == (
        alice.id,
        "todo.task.created",
        task["id"],
    )
    assert row["before"] is None
    assert row["after"]["title"] == "audited"


async def test_a_bulk_delivery_is_taken_entry_by_entry_with_a_status_for_each(
    stack: Stack, rt: Runtime, alice: Account, task: dict[str, Any]
) -> None:
    """Dapr's bulk subscribe: every entry processed in order, a repeat skipped, one that is
    not an event dead-lettered; each answered SUCCESS (a missing status means RETRY)."""
    first, second = task_event(alice, task), task_event(alice, task, "todo.task.updated")
    second["data"] |= {"previous": {"title": "audited"}, "changed": ["title"]}
    entries = [entry(first), entry(second), entry(first), entry("not an event", "text/plain")]
    status, answer = await bulk(stack, entries)
    assert status == 200
    assert answer == {"statuses": [{"entryId": e["entryId"], "status": "SUCCESS"} for e in entries]}
    ids = [first["id"], second["id"]]
    assert await count(rt, "select count(*) from audit_log where event_id = any($1)", ids) == 2
    async with rt.database.transaction() as conn:
        letter = await conn.fetchrow("select topic, reason, raw from dead_letters")
    assert letter is not None
    assert (letter["topic"], "no structured event" in letter["reason"]) == ("task.events", True)
    assert json.loads(letter["raw"])["entryId"] == entries[3]["entryId"]


async def test_a_bulk_delivery_is_audited_together_and_its_poison_alone_is_dead_lettered(
    stack: Stack, rt: Runtime, alice: Account, task: dict[str, Any]
) -> None:
    """The audit takes a delivery's events in one statement: one it cannot read is left
    out of it and dead-lettered, and the others are recorded with their own times."""
    events = [task_event(alice, task) for _ in range(5)]
    events[3]["time"] = "2026-03-02T10:00:00+01:00"
    events[2]["data"] = {"task": "not an object"}
    status, answer = await bulk(stack, [entry(e) for e in events])
    assert (status, {s["status"] for s in answer["statuses"]}) == (200, {"SUCCESS"})
    async with rt.database.transaction() as conn:
        rows = await conn.fetch(
            "select event_id, occurred_at from audit_log where event_id = any($1)",
            [e["id"] for e in events],
        )
        letters = await conn.fetch("select event_id, subscriber from dead_letters")
    recorded = {r["event_id"]: r["occurred_at"] for r in rows}
    assert set(recorded) == {e["id"] for n, e in enumerate(events) if n != 2}
    assert recorded[events[3]["id"]] == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert recorded[events[0]["id"]] == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert [(r["event_id"], r["subscriber"]) for r in letters] == [(events[2]["id"], "audit")]


async def test_a_bulk_delivery_in_an_outage_comes_again_whole_and_applies_once(
    stack: Stack, rt: Runtime, alice: Account, task: dict[str, Any]
) -> None:
    assert rt.settings.database_url
    events = [task_event(alice, task) for _ in range(3)]
    entries = [entry(e) for e in events]
    assert (await bulk(stack, entries[:1]))[0] == 200  # the first came through before
    proxy = FlakyProxy(rt.settings.database_url)
    await proxy.start()
    database = Database(rt.settings.with_changes(database_url=proxy.url, db_connect_timeout=2.0))
    rewire(rt, database=database, database_url=proxy.url)
    try:
        await proxy.down()
        status, problem = await bulk(stack, entries)
        assert (status, problem["type"]) == (503, "/problems/database-unavailable")
        await proxy.up()
        assert (await bulk(stack, entries))[0] == 200
    finally:
        await database.close()
        await proxy.down()
    ids = [e["id"] for e in events]
    assert await count(rt, "select count(*) from audit_log where event_id = any($1)", ids) == 3


async def test_a_bulk_delivery_without_entry_ids_is_refused(stack: Stack, rt: Runtime) -> None:
    status, problem = await bulk(stack, [{"event": {}}])
    assert status == 400
    assert "entryId" in problem["detail"]


async def test_an_update_is_audited_with_before_and_after(
    stack: Stack, rt: Runtime, alice: Account, task: dict[str, Any]
) -> None:
    after = {**task, "title": "renamed", "version": 2}
    event = task_event(alice, after, "todo.task.updated")
    event["data"]["previous"] = {"title": "audited"}
    event["data"]["changed"] = ["title"]
    assert (await structured(stack, event))[0] == 200
    async with rt.database.transaction() as conn:
        row = await conn.fetchrow(
            "select before, after from audit_log where event_id = $1", event["id"]
        )
    assert row is not None
    assert (row["before"]["title"], row["after"]["title"]) == ("audited", "renamed")


async def test_a_binary_mode_event_is_taken(
    stack: Stack, rt: Runtime, alice: Account, task: dict[str, Any]
) -> None:
    event_id = str(uuid.uuid4())
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-type": "todo.task.created",
        "ce-source": "/functions/create_task",
        "ce-subject": task["id"],
        "ce-userid": str(alice.id),
        "content-type": "application/json",
    }
    status, _ = await post(
        stack, "process_event", "/events", json.dumps({"task": task}).encode(), headers
    )
    assert status == 200
    assert await count(rt, "select count(*) from audit_log where event_id = $1", event_id) == 1


@pytest.mark.parametrize("outer", ["binary", "structured"])
async def test_a_kafkasource_wrapped_event_is_unwrapped(
    stack: Stack, rt: Runtime, alice: Account, task: dict[str, Any], outer: str
) -> None:
    inner = task_event(alice, task)
    if outer == "binary":
        headers = {
            "ce-specversion": "1.0",
            "ce-id": "partition:0/offset:42",
            "ce-type": "dev.knative.kafka.event",
            "ce-source": "/apis/v1/namespaces/todo/kafkasources/task-events#task.events",
            "ce-subject": "partition:0#42",
            "content-type": "application/json",
        }
        status, _ = await post(
            stack, "process_event", "/events", json.dumps(inner).encode(), headers
        )
    else:
        wrapper = {
            "specversion": "1.0",
            "id": "partition:0/offset:43",
            "type": "dev.knative.kafka.event",
            "source": "/apis/v1/namespaces/todo/kafkasources/task-events#task.events",
            "datacontenttype": "application/json",
            "data": inner,
        }
        status, _ = await structured(stack, wrapper)
    assert status == 200
    assert await count(rt, "select count(*) from audit_log where event_id = $1", inner["id"]) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"this is not json", "application/cloudevents+json", "not a CloudEvent"),
        (b'{"hello": "world"}', "application/json", "not a CloudEvent"),
        (
            json.dumps(
                {
                    "specversion": "1.0",
                    "id": "k",
                    "type": "dev.knative.kafka.event",
                    "source": "/k",
                    "data": "not json",
                }
            ).encode(),
            "application/cloudevents+json",
            "not JSON",
        ),
    ],
)
async def test_a_malformed_event_is_dead_lettered_and_acknowledged(
    stack: Stack, rt: Runtime, body: bytes, content_type: str, reason: str
) -> None:
    status, answer = await post(
        stack, "process_event", "/events", body, {"content-type": content_type}
    )
    assert (status, answer) == (200, {"status": "SUCCESS"})
    async with rt.database.transaction() as conn:
        letter = await conn.fetchrow("select topic, reason, raw from dead_letters")
    assert letter is not None
    assert letter["topic"] == "task.events"
    assert reason in letter["reason"]
    assert letter["raw"] == body.decode()


def processed(consumer: str, outcome: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value(
        "todo_events_processed_total", {"consumer": consumer, "outcome": outcome}
    )
    return value or 0.0


async def test_invalid_data_is_dead_lettered_not_retried(
    stack: Stack, rt: Runtime, alice: Account, task: dict[str, Any]
) -> None:
    invalid = task_event(alice, task)
    invalid["data"] = {"task": "not an object"}
    assert (await structured(stack, invalid))[0] == 200
    no_user = task_event(alice, task)
    del no_user["userid"]
    assert (await structured(stack, no_user))[0] == 200
    async with rt.database.transaction() as conn:
        rows = await conn.fetch(
            "select event_id, reason, subscriber, event from dead_letters order by reason"
        )
    reasons = {r["event_id"]: r["reason"] for r in rows}
    assert reasons[invalid["id"]] == "invalid data in todo.task.created: task"
    assert "userid" in reasons[no_user["id"]]
    assert all(r["event"]["type"] for r in rows)
    ids = [invalid["id"], no_user["id"]]
    assert await count(rt, "select count(*) from audit_log where event_id = any($1)", ids) == 0


async def test_a_poison_event_delivered_again_stays_one_dead_letter_with_a_count(
    stack: Stack, rt: Runtime, alice: Account, task: dict[str, Any]
) -> None:
    invalid = task_event(alice, task)
    invalid["data"] = {"task": {"id": task["id"]}}
    for _ in range(3):
        assert await structured(stack, invalid) == (200, {"status": "SUCCESS"})
    for _ in range(2):
        assert (await post(stack, "process_event", "/events", b"{nope", {}))[0] == 200
    async with rt.database.transaction() as conn:
        rows = await conn.fetch("select event_id, received_count from dead_letters order by 1")
    assert [(r["event_id"], r["received_count"]) for r in rows] == [(invalid["id"], 3), (None, 2)]


async def test_a_type_no_consumer_takes_is_acknowledged_and_counted_not_dead_lettered(
    stack: Stack, rt: Runtime, alice: Account, task: dict[str, Any]
) -> None:
    await settle(rt)
    ignored_before = processed("notify", "ignored")
    scheduled = task_event(
        alice, task, "todo.reminder.scheduled", topic="reminder.events", data={"reminder": {}}
    )
    status, body = await structured(stack, scheduled, fn="notify")
    assert (status, body) == (200, {"status": "SUCCESS"})
    unknown = task_event(alice, task, "todo.task.exploded")
    assert (await structured(stack, unknown))[0] == 200
    assert await count(rt, "select count(*) from dead_letters") == 0
    assert processed("notify", "ignored") == ignored_before + 1


async def test_a_due_reminder_whose_payload_no_longer_validates_is_poison(
    stack: Stack, rt: Runtime, alice: Account, task: dict[str, Any]
) -> None:
    due = task_event(
        alice,
        task,
        "todo.reminder.due",
        topic="reminder.events",
        data={"reminder": {"id": "not a uuid"}, "task": {"title": "t"}},
    )
    assert await structured(stack, due, fn="notify") == (200, {"status": "SUCCESS"})
    async with rt.database.transaction() as conn:
        letter = await conn.fetchrow("select subscriber, reason from dead_letters")
        assert await conn.fetchval("select count(*) from notifications") == 0
    assert letter is not None
    assert letter["subscriber"] == "notify"
    assert letter["reason"].startswith("invalid data in todo.reminder.due: reminder.id")
    assert "task.id" in letter["reason"]


async def test_the_dead_letter_intake_stores_the_event_as_dapr_forwards_it(
    stack: Stack, rt: Runtime, alice: Account, task: dict[str, Any]
) -> None:
    """Dapr publishes the failed event unchanged to the dead-letter topic: it still names
    the topic it was published to, and nothing says which subscriber gave up or why."""
    forwarded = task_event(alice, task, topic="task.events")
    assert (await structured(stack, forwarded, path="/events/dead-letter"))[0] == 200
    async with rt.database.transaction() as conn:
        (row,) = await conn.fetch("select * from dead_letters")
    assert (row["event_id"], row["topic"]) == (forwarded["id"], "task.events")
    assert row["reason"] == "delivery retries exhausted"
    assert row["subscriber"] is None


async def test_a_database_outage_answers_5xx_so_the_platform_retries(
    stack: Stack, rt: Runtime, alice: Account, task: dict[str, Any]
) -> None:
    assert rt.settings.database_url
    proxy = FlakyProxy(rt.settings.database_url)
    await proxy.start()
    database = Database(rt.settings.with_changes(database_url=proxy.url, db_connect_timeout=2.0))
    rewire(rt, database=database, database_url=proxy.url)
    event = task_event(alice, task)
    failed_before = processed("audit", "failed")
    try:
        await proxy.down()
        status, problem = await structured(stack, event)
        assert status == 503
        assert problem["type"] == "/problems/database-unavailable"
        assert processed("audit", "failed") == failed_before + 1
        await proxy.up()
        assert (await structured(stack, event))[0] == 200  # the retry succeeds
    finally:
        await database.close()
        await proxy.down()
    assert await count(rt, "select count(*) from audit_log where event_id = $1", event["id"]) == 1


async def test_event_routes_take_only_the_sidecar_when_a_token_is_set(
    stack: Stack, rt: Runtime, alice: Account, task: dict[str, Any]
) -> None:
    rewire(rt, app_api_token="from-dapr")
    body = json.dumps(task_event(alice, task)).encode()
    headers = {"content-type": "application/cloudevents+json"}
    for fn in ("process_event", "notify"):
        assert (await post(stack, fn, "/events", body, headers))[0] == 401
        bearer = {**headers, "authorization": f"Bearer {alice.token}"}
        assert (await post(stack, fn, "/events", body, bearer))[
            0
        ] == 401  # a user is not the sidecar
    sidecar = {**headers, "dapr-api-token": "from-dapr"}
    assert (await post(stack, "process_event", "/events", body, sidecar))[0] == 200


async def test_event_routes_are_not_public(stack: Stack) -> None:
    import httpx

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack), base_url="http://t"
    ) as client:
        assert (await client.post("/events", content=b"{}")).status_code == 404
        assert (await client.post("/tick")).status_code == 404


async def test_deliveries_log_at_debug_while_they_succeed_and_refusals_show(
    stack: Stack,
    rt: Runtime,
    alice: Account,
    task: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Thousands of deliveries an hour stay out of the INFO log; a refused one does not."""
    await settle(rt)  # the task's own events have been delivered
    caplog.set_level(logging.DEBUG, logger="todo.http")
    body = json.dumps(task_event(alice, task)).encode()
    headers = {"content-type": "application/cloudevents+json"}
    assert (await post(stack, "process_event", "/events", body, headers))[0] == 200
    assert (await call_app(stack.app("process_event"), "GET", "/ready", b"", {}))[0] == 200
    rewire(rt, app_api_token="from-dapr")
    assert (await post(stack, "process_event", "/events", body, headers))[0] == 401
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "todo.http"]
    assert lines == [
        (logging.DEBUG, "POST /events 200"),
        (logging.DEBUG, "GET /ready 200"),
        (logging.INFO, "POST /events 401"),
    ]


def test_bulk_subscriptions_stay_within_what_the_routes_take() -> None:
    """A bulk delivery may hold maxMessagesCount events: the routes read that many events'
    worth of body; and a batch waits at most a few milliseconds to fill: 50 where a person
    waits on it (pushes, notifications, the tick's next look), 100 for process-event (the
    audit, and a repeat's next instance)."""
    import yaml

    from todo.event_routes import BULK_MAX_MESSAGES
    from todo_cli.dev import SUBSCRIPTIONS

    bulks = [
        (doc["scopes"], doc["spec"]["bulkSubscribe"])
        for doc in yaml.safe_load_all(SUBSCRIPTIONS.read_text())
        if "bulkSubscribe" in doc["spec"]
    ]
    assert len(bulks) >= 7  # process-event, notify, the tick and realtime's four
    for scopes, settings in bulks:
        assert settings["enabled"]
        assert 1 < settings["maxMessagesCount"] <= BULK_MAX_MESSAGES
        assert settings["maxAwaitDurationMs"] <= (100 if scopes == ["process-event"] else 50)
