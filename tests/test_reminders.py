"""The reminders function: list, add, delete, snooze; reminders that follow the due time."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Account, CreateTask, settle
from tests.test_tick import tick
from todo.clock import ManualClock
from todo.runtime import Runtime
from todo_cli.dev import Stack

DUE = "2026-03-05T17:00:00Z"


async def reminders_of(
    client: httpx.AsyncClient, account: Account, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get("/api/reminders", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_add_list_and_delete(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, rt: Runtime
) -> None:
    task = await create_task(alice, title="dentist", due_at=DUE)
    added = await client.post(
        "/api/reminders",
        json={"task_id": task["id"], "before": "PT30M", "message": "leave now"},
        headers=alice.headers,
    )
    assert added.status_code == 201, added.text
    reminder = added.json()
    assert reminder["remind_at"] == "2026-03-05T16:30:00Z"
    assert reminder["before"] == "PT30M"
    assert reminder["message"] == "leave now"
    assert reminder["delivered_at"] is None
    assert added.headers["location"] == f"/api/reminders/{reminder['id']}"

    at = await client.post(
        "/api/reminders",
        json={"task_id": task["id"], "remind_at": "2026-03-04T08:00:00+01:00"},
        headers=alice.headers,
    )
    assert at.json()["remind_at"] == "2026-03-04T07:00:00Z"
    assert at.json()["before"] is None

    listed = await reminders_of(client, alice)
    assert [r["remind_at"] for r in listed] == ["2026-03-04T07:00:00Z", "2026-03-05T16:30:00Z"]
    assert await reminders_of(client, alice, task_id=task["id"], pending="true") == listed

    deleted = await client.delete(f"/api/reminders/{reminder['id']}", headers=alice.headers)
    assert deleted.status_code == 204
    assert [r["id"] for r in await reminders_of(client, alice)] == [at.json()["id"]]
    again = await client.delete(f"/api/reminders/{reminder['id']}", headers=alice.headers)
    assert again.status_code == 404

    async with rt.database.transaction() as conn:
        types = [r["type"] for r in await conn.fetch("select type from events order by seq")]
    assert types.count("todo.reminder.scheduled") == 2


async def test_reminders_page_with_a_cursor(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask
) -> None:
    task = await create_task(alice, title="t", due_at=DUE)
    for minutes in range(7):
        await client.post(
            "/api/reminders",
            json={"task_id": task["id"], "before": f"PT{minutes + 1}M"},
            headers=alice.headers,
        )
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/reminders", params=params, headers=alice.headers)).json()
        seen += [r["remind_at"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen)
    assert len(set(seen)) == 7


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"before": "PT5M"}, "task_id"),
        ({"task_id": "nope", "before": "PT5M"}, "task_id"),
        ({"task_id": "{task}"}, "body"),
        ({"task_id": "{task}", "before": "PT5M", "remind_at": DUE}, "body"),
        ({"task_id": "{undated}", "before": "PT5M"}, "body.0.before"),
        ({"task_id": "{task}", "remind_at": "2026-03-01T00:00:00Z"}, "body.0.remind_at"),
        ({"task_id": "{task}", "before": "PT5M", "message": "m" * 501}, "message"),
    ],
)
async def test_invalid_reminders_are_422_naming_the_field(
    client: httpx.AsyncClient,
    alice: Account,
    create_task: CreateTask,
    body: dict[str, Any],
    field: str,
) -> None:
    task = await create_task(alice, title="dated", due_at=DUE)
    undated = await create_task(alice, title="undated")
    filled = {
        k: (v.format(task=task["id"], undated=undated["id"]) if isinstance(v, str) else v)
        for k, v in body.items()
    }
    response = await client.post("/api/reminders", json=filled, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.json()


async def test_another_users_task_and_reminders_are_404(
    client: httpx.AsyncClient, alice: Account, bob: Account, create_task: CreateTask
) -> None:
    task = await create_task(alice, title="private", due_at=DUE)
    reminder = (
        await client.post(
            "/api/reminders", json={"task_id": task["id"], "before": "PT1H"}, headers=alice.headers
        )
    ).json()
    on_their_task = await client.post(
        "/api/reminders", json={"task_id": task["id"], "before": "PT1H"}, headers=bob.headers
    )
    assert on_their_task.status_code == 404
    assert (
        await client.delete(f"/api/reminders/{reminder['id']}", headers=bob.headers)
    ).status_code == 404
    snooze = await client.post(
        f"/api/reminders/{reminder['id']}/snooze", json={"minutes": 5}, headers=bob.headers
    )
    assert snooze.status_code == 404
    assert await reminders_of(client, bob) == []
    missing = await client.post(
        f"/api/reminders/{uuid.uuid4()}/snooze", json={"minutes": 5}, headers=alice.headers
    )
    assert missing.status_code == 404


async def test_snooze_by_minutes_or_until(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, clock: ManualClock
) -> None:
    task = await create_task(alice, title="call mum", due_at=DUE)
    reminder = (
        await client.post(
            "/api/reminders", json={"task_id": task["id"], "before": "PT1H"}, headers=alice.headers
        )
    ).json()
    url = f"/api/reminders/{reminder['id']}/snooze"
    by_minutes = await client.post(url, json={"minutes": 15}, headers=alice.headers)
    assert by_minutes.status_code == 200
    assert by_minutes.json()["remind_at"] == (
        clock.now() + timedelta(minutes=15)
    ).isoformat().replace("+00:00", "Z")
    assert by_minutes.json()["before"] is None  # a snoozed reminder no longer follows the due time

    until = await client.post(url, json={"until": "2026-03-02T12:00:00Z"}, headers=alice.headers)
    assert until.json()["remind_at"] == "2026-03-02T12:00:00Z"

    for bad, field in [
        ({"minutes": 0}, "minutes"),
        ({"minutes": 60 * 24 * 8}, "minutes"),
        ({"until": "2026-03-01T00:00:00Z"}, "until"),
        ({}, "body"),
        ({"minutes": 5, "until": "2026-03-03T00:00:00Z"}, "body"),
    ]:
        response = await client.post(url, json=bad, headers=alice.headers)
        assert response.status_code == 422, bad
        assert field in [e["field"] for e in response.json()["errors"]]


async def test_relative_reminders_follow_the_due_time(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask
) -> None:
    task = await create_task(
        alice,
        title="flight",
        due_at=DUE,
        reminders=[{"before": "PT2H"}, {"remind_at": "2026-03-04T09:00:00Z"}],
    )
    await client.patch(
        f"/api/tasks/{task['id']}", json={"due_at": "2026-03-06T10:00:00Z"}, headers=alice.headers
    )
    moments = [r["remind_at"] for r in await reminders_of(client, alice)]
    assert moments == ["2026-03-04T09:00:00Z", "2026-03-06T08:00:00Z"]


async def test_deleting_a_task_deletes_its_reminders(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask
) -> None:
    task = await create_task(alice, title="gone", due_at=DUE, reminders=[{"before": "PT1H"}])
    await client.delete(f"/api/tasks/{task['id']}", headers=alice.headers)
    assert await reminders_of(client, alice) == []


async def feed(client: httpx.AsyncClient, account: Account, type: str) -> list[dict[str, Any]]:
    """The account's change feed, only the events of one type."""
    page = await client.get("/api/sync", params={"limit": 1000}, headers=account.headers)
    assert page.status_code == 200, page.text
    return [e for e in page.json()["events"] if e["type"] == type]


async def test_deleting_a_reminder_is_in_the_change_feed(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask
) -> None:
    task = await create_task(alice, title="t", due_at=DUE, reminders=[{"before": "PT1H"}])
    (reminder,) = await reminders_of(client, alice)
    deleted = await client.delete(f"/api/reminders/{reminder['id']}", headers=alice.headers)
    assert deleted.status_code == 204
    (event,) = await feed(client, alice, "todo.reminder.deleted")
    assert event["subject"] == reminder["id"]
    assert event["data"] == {"reminder": reminder}
    assert event["data"]["reminder"]["task_id"] == task["id"]


async def test_moving_the_due_time_announces_each_moved_reminder(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask
) -> None:
    task = await create_task(
        alice,
        title="flight",
        due_at=DUE,
        reminders=[{"before": "PT2H"}, {"before": "P1D"}, {"remind_at": "2026-03-04T09:00:00Z"}],
    )
    moved = await client.patch(
        f"/api/tasks/{task['id']}", json={"due_at": "2026-03-06T10:00:00Z"}, headers=alice.headers
    )
    assert moved.status_code == 200, moved.text
    updates = await feed(client, alice, "todo.reminder.updated")
    moves = sorted(
        (e["data"]["previous"]["remind_at"], e["data"]["reminder"]["remind_at"]) for e in updates
    )
    assert moves == [
        ("2026-03-04T17:00:00Z", "2026-03-05T10:00:00Z"),
        ("2026-03-05T15:00:00Z", "2026-03-06T08:00:00Z"),
    ]  # the absolute reminder did not move, so it is not announced
    sequences = [e["sequence"] for e in updates]
    (task_updated,) = await feed(client, alice, "todo.task.updated")
    assert all(seq > task_updated["sequence"] for seq in sequences)


async def test_snoozing_announces_the_move_as_an_update(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, clock: ManualClock
) -> None:
    await create_task(alice, title="call", due_at=DUE, reminders=[{"before": "PT1H"}])
    (reminder,) = await reminders_of(client, alice)
    snoozed = await client.post(
        f"/api/reminders/{reminder['id']}/snooze", json={"minutes": 10}, headers=alice.headers
    )
    assert snoozed.status_code == 200
    (event,) = await feed(client, alice, "todo.reminder.updated")
    assert event["data"] == {"reminder": snoozed.json(), "previous": reminder}
    assert len(await feed(client, alice, "todo.reminder.scheduled")) == 1  # only the creation


async def test_clearing_the_due_time_under_relative_reminders_is_refused(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask
) -> None:
    task = await create_task(
        alice, title="t", due_at=DUE, reminders=[{"before": "PT1H"}, {"before": "PT2H"}]
    )
    cleared = await client.patch(
        f"/api/tasks/{task['id']}", json={"due_at": None}, headers=alice.headers
    )
    assert cleared.status_code == 422, cleared.text
    assert cleared.json()["errors"] == [
        {
            "field": "due_at",
            "message": "2 reminders are relative to it; delete them or give them a time",
        }
    ]
    unchanged = (await client.get(f"/api/tasks/{task['id']}", headers=alice.headers)).json()
    assert (unchanged["due_at"], unchanged["version"]) == (DUE, task["version"])
    assert [r["remind_at"] for r in await reminders_of(client, alice)] == [
        "2026-03-05T15:00:00Z",
        "2026-03-05T16:00:00Z",
    ]

    for reminder in await reminders_of(client, alice):
        await client.delete(f"/api/reminders/{reminder['id']}", headers=alice.headers)
    cleared = await client.patch(
        f"/api/tasks/{task['id']}", json={"due_at": None}, headers=alice.headers
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["due_at"] is None


async def test_a_relative_reminder_in_the_past_is_refused_like_an_absolute_one(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, clock: ManualClock
) -> None:
    soon = (clock.now() + timedelta(hours=1)).isoformat()
    created = await client.post(
        "/api/tasks",
        json={"title": "t", "due_at": soon, "reminders": [{"before": "PT30M"}, {"before": "P1D"}]},
        headers=alice.headers,
    )
    assert created.status_code == 422, created.text
    assert [e["field"] for e in created.json()["errors"]] == ["reminders.1.before"]

    task = await create_task(alice, title="t", due_at=soon)
    added = await client.post(
        "/api/reminders", json={"task_id": task["id"], "before": "PT2H"}, headers=alice.headers
    )
    assert added.status_code == 422, added.text
    assert [e["field"] for e in added.json()["errors"]] == ["body.0.before"]
    assert await reminders_of(client, alice) == []


async def test_a_relative_reminder_moved_into_the_past_is_delivered_at_the_next_tick(
    client: httpx.AsyncClient,
    alice: Account,
    create_task: CreateTask,
    clock: ManualClock,
    stack: Stack,
    rt: Runtime,
) -> None:
    task = await create_task(alice, title="t", due_at=DUE, reminders=[{"before": "PT1H"}])
    soon = (clock.now() + timedelta(minutes=30)).isoformat()
    moved = await client.patch(
        f"/api/tasks/{task['id']}", json={"due_at": soon}, headers=alice.headers
    )
    assert moved.status_code == 200, moved.text
    await settle(rt)
    assert (await tick(stack))["delivered"] == 1
