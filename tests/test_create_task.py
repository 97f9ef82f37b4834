"""POST /api/tasks: shape, validation, idempotency, and the CloudEvent forms of the request."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Account, CreateTask, rewire
from todo.runtime import Runtime

DUE = "2026-03-10T17:00:00+01:00"


async def count(rt: Runtime, table: str) -> int:
    async with rt.database.transaction() as conn:
        n: int = await conn.fetchval(f"select count(*) from {table}")
        return n


async def test_create_returns_the_task_with_location_and_etag(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        "/api/tasks",
        json={
            "title": "  Pay rent  ",
            "description": "before the 5th",
            "priority": "high",
            "due_at": DUE,
            "tags": ["Home", "money", "home"],
            "metadata": {"source": "test", "n": [1, 2]},
        },
        headers=alice.headers,
    )
    assert response.status_code == 201
    task = response.json()
    assert task["title"] == "Pay rent"
    assert task["status"] == "pending"
    assert task["priority"] == "high"
    assert task["due_at"] == "2026-03-10T16:00:00Z"
    assert task["tags"] == ["home", "money"]
    assert task["metadata"] == {"source": "test", "n": [1, 2]}
    assert task["version"] == 1
    assert task["completed_at"] is None
    assert task["created_at"] == task["updated_at"] == "2026-03-02T09:30:00Z"
    assert response.headers["location"] == f"/api/tasks/{task['id']}"
    assert response.headers["etag"] == '"1"'

    fetched = await client.get(response.headers["location"], headers=alice.headers)
    assert fetched.json() == task


async def test_defaults_and_a_task_created_completed(
    create_task: CreateTask, alice: Account
) -> None:
    plain = await create_task(alice, title="x")
    assert (plain["status"], plain["priority"], plain["tags"], plain["metadata"]) == (
        "pending",
        "medium",
        [],
        {},
    )
    done = await create_task(alice, title="already done", status="completed")
    assert done["completed_at"] == "2026-03-02T09:30:00Z"


async def test_reminders_and_recurrence_are_accepted_and_stored(
    client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    response = await client.post(
        "/api/tasks",
        json={
            "title": "stand-up",
            "due_at": DUE,
            "reminders": [
                {"before": "PT15M"},
                {"remind_at": "2026-03-10T08:00:00Z", "message": "prep"},
            ],
            "recurrence": {"rrule": "rrule:freq=weekly;byday=mo,we", "timezone": "Europe/Berlin"},
        },
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["recurrence"] == {
        "rrule": "FREQ=WEEKLY;BYDAY=MO,WE",
        "timezone": "Europe/Berlin",
        "mode": "due",
    }
    async with rt.database.transaction() as conn:
        rows = await conn.fetch("select remind_at, message from reminders order by remind_at")
    assert [(r["remind_at"].isoformat(), r["message"]) for r in rows] == [
        ("2026-03-10T08:00:00+00:00", "prep"),
        ("2026-03-10T15:45:00+00:00", None),
    ]

    shorthand = await client.post(
        "/api/tasks",
        json={"title": "water plants", "due_at": DUE, "recurrence": "daily"},
        headers=alice.headers,
    )
    assert shorthand.json()["recurrence"] == {
        "rrule": "FREQ=DAILY",
        "timezone": None,
        "mode": "due",
    }


LONG = "x" * 256
INVALID_BODIES = [
    ({}, "title"),
    ({"title": "   "}, "title"),
    ({"title": LONG}, "title"),
    ({"title": 123}, "title"),
    ({"title": "t", "description": "d" * 10_001}, "description"),
    ({"title": "t", "status": "done"}, "status"),
    ({"title": "t", "priority": "critical"}, "priority"),
    ({"title": "t", "due_at": "tomorrow"}, "due_at"),
    ({"title": "t", "due_at": "2026-03-10T10:00:00"}, "due_at"),
    ({"title": "t", "tags": "home"}, "tags"),
    ({"title": "t", "tags": [f"t{i}" for i in range(21)]}, "tags"),
    ({"title": "t", "tags": ["  "]}, "tags.0"),
    ({"title": "t", "tags": ["ok", "y" * 51]}, "tags.1"),
    ({"title": "t", "metadata": ["not", "an", "object"]}, "metadata"),
    ({"title": "t", "metadata": {"blob": "z" * 17_000}}, "metadata"),
    ({"title": "t", "colour": "red"}, "colour"),
    ({"title": "t", "reminders": [{}]}, "reminders.0"),
    (
        {"title": "t", "due_at": DUE, "reminders": [{"remind_at": DUE, "before": "PT5M"}]},
        "reminders.0",
    ),
    ({"title": "t", "reminders": [{"before": "PT5M"}]}, "reminders.0.before"),
    ({"title": "t", "due_at": DUE, "reminders": [{"before": "-PT5M"}]}, "reminders.0.before"),
    ({"title": "t", "due_at": DUE, "reminders": [{"before": "soon"}]}, "reminders.0.before"),
    ({"title": "t", "recurrence": "yearly"}, "recurrence"),
    ({"title": "t", "recurrence": {"rrule": "FREQ=NEVER"}}, "recurrence.rrule"),
    (
        {"title": "t", "recurrence": {"rrule": "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30"}},
        "recurrence.rrule",
    ),
    (
        {"title": "t", "recurrence": {"rrule": "FREQ=DAILY", "timezone": "Mars/Base"}},
        "recurrence.timezone",
    ),
    ({"title": "t", "recurrence": {"rrule": "FREQ=DAILY", "mode": "sometimes"}}, "recurrence.mode"),
    ([{"title": "t"}], "body"),
    (None, "body"),
]


@pytest.mark.parametrize(("body", "field"), INVALID_BODIES)
async def test_invalid_fields_are_422_naming_the_field_and_create_nothing(
    client: httpx.AsyncClient, alice: Account, rt: Runtime, body: Any, field: str
) -> None:
    response = await client.post(
        "/api/tasks",
        content=json.dumps(body),
        headers={**alice.headers, "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "/problems/validation-error"
    assert field in [e["field"] for e in problem["errors"]], problem
    assert field in problem["detail"]
    assert await count(rt, "tasks") == 0
    assert await count(rt, "events") == 0


@pytest.mark.parametrize(
    ("content", "content_type", "status", "kind"),
    [
        (b'{"title": "t",', "application/json", 400, "malformed-body"),
        (b"", "application/json", 400, "malformed-body"),
        (b"\xff\xfe", "application/json", 400, "malformed-body"),
        (b"title=t", "application/x-www-form-urlencoded", 415, "unsupported-media-type"),
    ],
)
async def test_a_body_that_is_not_json_is_a_clear_4xx(
    client: httpx.AsyncClient,
    alice: Account,
    content: bytes,
    content_type: str,
    status: int,
    kind: str,
) -> None:
    response = await client.post(
        "/api/tasks", content=content, headers={**alice.headers, "content-type": content_type}
    )
    assert response.status_code == status
    assert response.json()["type"] == f"/problems/{kind}"
    assert "body" in response.json()["detail"] or status == 415


async def test_a_body_over_one_mebibyte_is_413(
    client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    body = json.dumps({"title": "t", "description": "x" * (1024 * 1024)})
    response = await client.post(
        "/api/tasks", content=body, headers={**alice.headers, "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["type"] == "/problems/body-too-large"

    async def chunks() -> Any:
        for _ in range(17):
            yield b"x" * 65536

    streamed = await client.post(
        "/api/tasks",
        content=chunks(),
        headers={**alice.headers, "content-type": "application/json"},
    )
    assert streamed.status_code == 413
    assert await count(rt, "tasks") == 0


async def test_the_same_idempotency_key_returns_the_first_result(
    client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    headers = {**alice.headers, "idempotency-key": "order-42"}
    first = await client.post("/api/tasks", json={"title": "once"}, headers=headers)
    again = await client.post("/api/tasks", json={"title": "once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count(rt, "tasks") == 1
    assert await count(rt, "events") == 1

    different = await client.post("/api/tasks", json={"title": "other"}, headers=headers)
    assert different.status_code == 422
    assert different.json()["type"] == "/problems/idempotency-key-reused"
    assert await count(rt, "tasks") == 1


async def test_idempotency_keys_are_per_user(
    client: httpx.AsyncClient, alice: Account, bob: Account, rt: Runtime
) -> None:
    for account in (alice, bob):
        response = await client.post(
            "/api/tasks",
            json={"title": "same"},
            headers={**account.headers, "idempotency-key": "k"},
        )
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
    assert await count(rt, "tasks") == 2


async def test_concurrent_requests_with_one_key_create_one_task(
    client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    headers = {**alice.headers, "idempotency-key": "double-click"}
    responses = await asyncio.gather(
        *[client.post("/api/tasks", json={"title": "once"}, headers=headers) for _ in range(6)]
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in responses) == 1
    assert await count(rt, "tasks") == 1
    assert await count(rt, "events") == 1


@pytest.mark.parametrize("key", ["", "x" * 256])
async def test_a_malformed_idempotency_key_is_422(
    client: httpx.AsyncClient, alice: Account, key: str
) -> None:
    response = await client.post(
        "/api/tasks", json={"title": "t"}, headers={**alice.headers, "idempotency-key": key}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def binary_event(event_id: str, data: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-type": "todo.task.create",
        "ce-source": "/clients/test",
        "content-type": "application/json",
        **{f"ce-{k}": v for k, v in extra.items()},
    }


async def test_create_as_a_binary_mode_cloudevent_is_idempotent_by_event_id(
    client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    data = {"title": "from an event", "priority": "urgent"}
    headers = {**alice.headers, **binary_event("evt-1", data)}
    first = await client.post("/api/tasks", content=json.dumps(data), headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["title"] == "from an event"
    assert first.json()["priority"] == "urgent"
    redelivered = await client.post("/api/tasks", content=json.dumps(data), headers=headers)
    assert redelivered.json()["id"] == first.json()["id"]
    assert await count(rt, "tasks") == 1


async def test_create_as_a_structured_cloudevent(
    client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": "todo.task.create",
        "source": "/clients/test",
        "datacontenttype": "application/json",
        "data": {"title": "structured", "tags": ["Ev"]},
    }
    headers = {**alice.headers, "content-type": "application/cloudevents+json"}
    response = await client.post("/api/tasks", content=json.dumps(event), headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["tags"] == ["ev"]
    again = await client.post("/api/tasks", content=json.dumps(event), headers=headers)
    assert again.json()["id"] == response.json()["id"]
    assert await count(rt, "tasks") == 1


async def test_cloudevent_problems_are_4xx(client: httpx.AsyncClient, alice: Account) -> None:
    wrong_type = {**alice.headers, **binary_event("e", {}), "ce-type": "todo.task.delete"}
    response = await client.post("/api/tasks", content=b'{"title": "t"}', headers=wrong_type)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "type"

    missing_id = {**alice.headers, "content-type": "application/cloudevents+json"}
    broken = {
        "specversion": "1.0",
        "type": "todo.task.create",
        "source": "/x",
        "data": {"title": "t"},
    }
    response = await client.post("/api/tasks", content=json.dumps(broken), headers=missing_id)
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/malformed-body"

    bad_data = {**alice.headers, **binary_event("e2", {})}
    response = await client.post("/api/tasks", content=b'{"title": ""}', headers=bad_data)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "title"

    other_user = {**alice.headers, **binary_event("e3", {}, userid=str(uuid.uuid4()))}
    response = await client.post("/api/tasks", content=b'{"title": "t"}', headers=other_user)
    assert response.status_code == 403


async def test_the_sidecar_may_create_for_the_events_user_without_a_bearer_token(
    client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    rewire(rt, app_api_token="sidecar-secret")
    body = b'{"title": "via dapr"}'
    headers = binary_event("dapr-1", {}, userid=str(alice.id))
    unauthenticated = await client.post("/api/tasks", content=body, headers=headers)
    assert unauthenticated.status_code == 401
    forged = await client.post(
        "/api/tasks", content=body, headers={**headers, "dapr-api-token": "guess"}
    )
    assert forged.status_code == 401
    from_sidecar = await client.post(
        "/api/tasks", content=body, headers={**headers, "dapr-api-token": "sidecar-secret"}
    )
    assert from_sidecar.status_code == 201, from_sidecar.text
    listed = await client.get("/api/tasks", headers=alice.headers)
    assert [t["title"] for t in listed.json()["items"]] == ["via dapr"]

    no_user = binary_event("dapr-2", {})
    response = await client.post(
        "/api/tasks", content=body, headers={**no_user, "dapr-api-token": "sidecar-secret"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "userid"
