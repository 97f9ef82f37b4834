"""The outbox and the Dapr publisher: every change's event is kept, published after commit,
and a failing sidecar never fails the request or loses the event.

The sidecar's HTTP API is mocked with respx, checked against Dapr's documented contract:
POST /v1.0-alpha1/publish/bulk/<pubsub>/<topic> with a JSON list of entries (entryId, our
CloudEvent as `event` with contentType application/cloudevents+json, metadata with the
partition key), `dapr-api-token` when the sidecar wants one, 204 when every entry was
taken, 500 with `failedEntries` when some were not.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
import respx

from tests.conftest import Account, rewire
from todo.clock import ManualClock
from todo.dapr import DaprPublisher
from todo.events import Event
from todo.runtime import Runtime
from todo_cli.dev import Stack

SIDECAR = "http://127.0.0.1:3500"


def bulk(topic: str) -> str:
    return f"{SIDECAR}/v1.0-alpha1/publish/bulk/pubsub/{topic}"


BULK_TASK_EVENTS = bulk("task.events")


@pytest.fixture
async def dapr(rt: Runtime) -> AsyncIterator[Runtime]:
    """The runtime publishing through a DaprPublisher to a mocked sidecar on port 3500."""
    settings = rt.settings.with_changes(dapr_http_port=3500, dapr_api_token="sidecar-token")
    publisher = DaprPublisher(settings)
    # The tick's relay is under test here; a process relaying what the sidecar refused
    # it is tested in tests/test_after_commit.py.
    publisher.relays_untaken = False
    wired = rewire(
        rt,
        publisher=publisher,
        dapr_http_port=3500,
        dapr_api_token="sidecar-token",
        tick_idle_look_seconds=0,  # every tick looks, and relays
    )
    yield wired
    await wired.outgoing.close()


async def outbox_rows(rt: Runtime) -> list[dict[str, Any]]:
    async with rt.database.transaction() as conn:
        rows = await conn.fetch(
            "select id, user_id, type, seq, published_at from events order by seq, user_id"
        )
    return [dict(r) for r in rows]


async def test_a_change_is_published_as_our_cloudevent_with_the_user_as_partition_key(
    dapr: Runtime, client: httpx.AsyncClient, alice: Account
) -> None:
    with respx.mock() as mock:
        route = mock.post(BULK_TASK_EVENTS).mock(return_value=httpx.Response(204))
        response = await client.post(
            "/api/tasks", json={"title": "publish me"}, headers=alice.headers
        )
        await dapr.outgoing.drain()
    assert response.status_code == 201

    assert route.call_count == 1
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/json"
    assert request.headers["dapr-api-token"] == "sidecar-token"
    (entry,) = json.loads(request.content)
    assert entry["contentType"] == "application/cloudevents+json"
    assert entry["metadata"] == {"partitionKey": str(alice.id)}
    event = entry["event"]
    rows = await outbox_rows(dapr)
    assert entry["entryId"] == str(rows[0]["id"])
    assert event == {
        "specversion": "1.0",
        "id": str(rows[0]["id"]),
        "type": "todo.task.created",
        "source": "/functions/create_task",
        "subject": response.json()["id"],
        "time": "2026-03-02T09:30:00Z",
        "datacontenttype": "application/json",
        "userid": str(alice.id),
        "sequence": 1,
        "data": {"task": response.json()},
    }
    assert rows[0]["published_at"] is not None


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(httpx.Response(403, text="forbidden by pubsub scopes"), id="403"),
        pytest.param(httpx.Response(404, text="no such pubsub"), id="404"),
        pytest.param(httpx.Response(500, text="broker down"), id="500"),
        pytest.param(httpx.ReadTimeout("sidecar too slow"), id="timeout"),
        pytest.param(httpx.ConnectError("connection refused"), id="refused"),
    ],
)
async def test_a_failing_sidecar_leaves_the_event_for_the_relay_and_the_request_succeeds(
    dapr: Runtime, client: httpx.AsyncClient, alice: Account, failure: Any
) -> None:
    with respx.mock() as mock:
        route = mock.post(BULK_TASK_EVENTS)
        if isinstance(failure, Exception):
            route.mock(side_effect=failure)
        else:
            route.mock(return_value=failure)
        response = await client.post("/api/tasks", json={"title": "kept"}, headers=alice.headers)
        await dapr.outgoing.drain()
    assert response.status_code == 201
    rows = await outbox_rows(dapr)
    assert [(r["type"], r["published_at"]) for r in rows] == [("todo.task.created", None)]
    # The task itself committed.
    fetched = await client.get(f"/api/tasks/{response.json()['id']}", headers=alice.headers)
    assert fetched.status_code == 200


async def test_publishing_stops_at_the_first_failure_to_keep_the_users_order(
    dapr: Runtime, client: httpx.AsyncClient, alice: Account
) -> None:
    with respx.mock(assert_all_called=False) as mock:
        tasks_route = mock.post(BULK_TASK_EVENTS).mock(return_value=httpx.Response(204))
        recurrence_route = mock.post(bulk("recurrence.events")).mock(
            return_value=httpx.Response(500)
        )
        reminders_route = mock.post(bulk("reminder.events")).mock(return_value=httpx.Response(204))
        response = await client.post(
            "/api/tasks",
            json={
                "title": "three events",
                "due_at": "2026-03-03T10:00:00Z",
                "recurrence": "daily",
                "reminders": [{"before": "PT10M"}],
            },
            headers=alice.headers,
        )
        await dapr.outgoing.drain()
    assert response.status_code == 201
    rows = await outbox_rows(dapr)
    assert [r["type"] for r in rows] == [
        "todo.task.created",
        "todo.recurrence.created",
        "todo.reminder.scheduled",
    ]
    # The sidecar failed recurrence.created, so it and everything after it wait for the relay.
    assert (tasks_route.call_count, recurrence_route.call_count, reminders_route.call_count) == (
        1,
        1,
        0,
    )
    assert [r["published_at"] is not None for r in rows] == [True, False, False]


class ExplodingPublisher:
    """Stands for a process that dies between commit and publish."""

    relays_untaken = False  # a dead process relays nothing

    async def publish(self, events: Sequence[Event]) -> Sequence[UUID]:
        raise RuntimeError("process killed")

    async def close(self) -> None:
        return None


async def test_a_crash_between_commit_and_publish_loses_no_event(
    rt: Runtime, client: httpx.AsyncClient, alice: Account
) -> None:
    wired = rewire(rt, publisher=ExplodingPublisher())
    response = await client.post("/api/tasks", json={"title": "survives"}, headers=alice.headers)
    await wired.outgoing.drain()
    assert response.status_code == 201
    rows = await outbox_rows(rt)
    assert [(r["type"], r["published_at"]) for r in rows] == [("todo.task.created", None)]
    feed = (await client.get("/api/sync", headers=alice.headers)).json()
    assert feed["events"][0]["data"]["task"]["title"] == "survives"


async def test_a_slow_sidecar_does_not_delay_the_response(
    dapr: Runtime, client: httpx.AsyncClient, alice: Account
) -> None:
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(204)

    with respx.mock() as mock:
        mock.post(BULK_TASK_EVENTS).mock(side_effect=slow)
        response = await client.post("/api/tasks", json={"title": "fast"}, headers=alice.headers)
        assert response.status_code == 201
        assert [r["published_at"] for r in await outbox_rows(dapr)] == [None]
        release.set()
        await dapr.outgoing.drain()
    assert [r["published_at"] is not None for r in await outbox_rows(dapr)] == [True]


async def leave_in_outbox(
    dapr: Runtime, client: httpx.AsyncClient, account: Account, n: int
) -> None:
    """Make n task events while the sidecar refuses them, then let them age past the relay delay."""
    with respx.mock() as mock:
        mock.post(BULK_TASK_EVENTS).mock(return_value=httpx.Response(500))
        for i in range(n):
            await client.post("/api/tasks", json={"title": f"t{i}"}, headers=account.headers)
        await dapr.outgoing.drain()
    assert isinstance(dapr.clock, ManualClock)
    dapr.clock.advance(timedelta(seconds=dapr.settings.relay_after_seconds + 1))


async def test_the_relay_bulk_publishes_per_topic_in_user_order(
    dapr: Runtime, client: httpx.AsyncClient, alice: Account, bob: Account, stack: Stack
) -> None:
    await leave_in_outbox(dapr, client, alice, 2)
    await leave_in_outbox(dapr, client, bob, 1)
    with respx.mock() as mock:
        route = mock.post(BULK_TASK_EVENTS).mock(return_value=httpx.Response(204))
        status, body = await stack.tick()
    assert status == 200
    assert json.loads(body)["relayed"] == 3
    requests = [call.request for call in route.calls]
    assert all(r.headers["content-type"] == "application/json" for r in requests)
    assert all(r.headers["dapr-api-token"] == "sidecar-token" for r in requests)
    bodies = [json.loads(r.content) for r in requests]
    entries = [entry for body in bodies for entry in body]
    rows = await outbox_rows(dapr)
    by_id = {str(r["id"]): r for r in rows}
    assert [set(e) for e in entries] == [{"entryId", "event", "contentType", "metadata"}] * 3
    assert all(e["contentType"] == "application/cloudevents+json" for e in entries)
    assert all(e["event"]["id"] == e["entryId"] for e in entries)
    assert all(e["metadata"] == {"partitionKey": e["event"]["userid"]} for e in entries)
    # Dapr keeps no order inside one bulk request: one event per user per request, and
    # each user's requests go in sequence order.
    assert [len({e["event"]["userid"] for e in b}) for b in bodies] == [len(b) for b in bodies]
    assert [len(b) for b in bodies] == [2, 1]
    for user in (alice, bob):
        seqs = [e["event"]["sequence"] for e in entries if e["event"]["userid"] == str(user.id)]
        assert seqs == sorted(seqs)
    assert all(by_id[e["entryId"]]["published_at"] is not None for e in entries)


async def test_an_entry_dapr_reports_failed_stays_with_that_users_later_events(
    dapr: Runtime, client: httpx.AsyncClient, alice: Account, bob: Account, stack: Stack
) -> None:
    await leave_in_outbox(dapr, client, alice, 3)
    await leave_in_outbox(dapr, client, bob, 1)
    alices = [r for r in await outbox_rows(dapr) if r["user_id"] == alice.id]
    failed = str(alices[1]["id"])
    answer = {
        "failedEntries": [{"entryId": failed, "error": "broker said no"}],
        "errorCode": "ERR_PUBSUB_PUBLISH_MESSAGE",
    }
    with respx.mock() as mock:
        mock.post(BULK_TASK_EVENTS).mock(return_value=httpx.Response(500, json=answer))
        _, body = await stack.tick()
    # Alice's first and Bob's went; her second failed, so her third waits behind it.
    assert json.loads(body)["relayed"] == 2
    after: dict[UUID, list[bool]] = {}
    for r in await outbox_rows(dapr):
        after.setdefault(r["user_id"], []).append(r["published_at"] is not None)
    assert after == {alice.id: [True, False, False], bob.id: [True]}

    with respx.mock() as mock:
        mock.post(BULK_TASK_EVENTS).mock(return_value=httpx.Response(403, text="forbidden"))
        _, body = await stack.tick()
    assert json.loads(body)["relayed"] == 0
    with respx.mock() as mock:
        route = mock.post(BULK_TASK_EVENTS).mock(return_value=httpx.Response(204))
        _, body = await stack.tick()
    assert json.loads(body) | {"relayed": 2, "backlog": 0} == json.loads(body)
    sent = [json.loads(c.request.content)[0]["event"]["sequence"] for c in route.calls]
    assert sent == [2, 3]
