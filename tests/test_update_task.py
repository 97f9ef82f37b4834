"""Changing tasks: PATCH with If-Match, complete, reopen, delete, and isolation between users."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Account, CreateTask
from todo.clock import ManualClock
from todo.runtime import Runtime


async def event_types(rt: Runtime, account: Account) -> list[str]:
    async with rt.database.transaction() as conn:
        rows = await conn.fetch(
            "select type from events where user_id = $1 order by seq", account.id
        )
    return [r["type"] for r in rows]


async def test_patch_changes_only_the_given_fields_and_bumps_the_version(
    client: httpx.AsyncClient,
    alice: Account,
    create_task: CreateTask,
    clock: ManualClock,
    rt: Runtime,
) -> None:
    task = await create_task(
        alice, title="draft", description="keep me", tags=["a"], due_at="2026-04-01T10:00:00Z"
    )
    clock.advance(timedelta(minutes=5))
    response = await client.patch(
        f"/api/tasks/{task['id']}",
        json={"title": "final", "tags": ["B", "c"], "due_at": None, "status": "in_progress"},
        headers={**alice.headers, "if-match": '"1"'},
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["title"] == "final"
    assert updated["description"] == "keep me"
    assert updated["tags"] == ["b", "c"]
    assert updated["due_at"] is None
    assert updated["status"] == "in_progress"
    assert updated["version"] == 2
    assert updated["updated_at"] == "2026-03-02T09:35:00Z"
    assert updated["created_at"] == task["created_at"]
    assert response.headers["etag"] == '"2"'
    assert await event_types(rt, alice) == ["todo.task.created", "todo.task.updated"]

    async with rt.database.transaction() as conn:
        data = await conn.fetchval("select data from events where type = 'todo.task.updated'")
    assert data["changed"] == ["due_at", "status", "tags", "title"]
    assert data["previous"]["title"] == "draft"
    assert data["task"]["title"] == "final"


async def test_a_stale_if_match_is_412_and_changes_nothing(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, rt: Runtime
) -> None:
    task = await create_task(alice, title="v1")
    url = f"/api/tasks/{task['id']}"
    first = await client.patch(
        url, json={"title": "v2"}, headers={**alice.headers, "if-match": '"1"'}
    )
    assert first.status_code == 200
    stale = await client.patch(
        url, json={"title": "lost update"}, headers={**alice.headers, "if-match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["type"] == "/problems/stale-version"
    assert stale.json()["current_version"] == 2
    assert stale.headers["etag"] == '"2"'
    current = (await client.get(url, headers=alice.headers)).json()
    assert current["title"] == "v2"
    for method, path in [("POST", "/complete"), ("DELETE", "")]:
        response = await client.request(
            method, url + path, headers={**alice.headers, "if-match": '"1"'}
        )
        assert response.status_code == 412
    assert await event_types(rt, alice) == ["todo.task.created", "todo.task.updated"]


@pytest.mark.parametrize("header", ['"2"', "*", '"7", "2"', "2"])
async def test_if_match_accepts_the_current_etag_star_or_a_list(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, header: str
) -> None:
    task = await create_task(alice)
    url = f"/api/tasks/{task['id']}"
    await client.patch(url, json={"title": "v2"}, headers=alice.headers)
    response = await client.patch(
        url, json={"title": "v3"}, headers={**alice.headers, "if-match": header}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("header", ['W/"1"', '"one"'])
async def test_an_unusable_if_match_is_422_naming_it(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, header: str
) -> None:
    task = await create_task(alice)
    response = await client.patch(
        f"/api/tasks/{task['id']}",
        json={"title": "x"},
        headers={**alice.headers, "if-match": header},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "If-Match"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": None}, "title"),
        ({"title": ""}, "title"),
        ({"status": "done"}, "status"),
        ({"tags": None}, "tags"),
        ({"version": 3}, "version"),
        ({"due_at": "2026-01-01"}, "due_at"),
        ({"recurrence": {"rrule": "FREQ=DAILY;INTERVAL=0"}}, "recurrence.rrule"),
    ],
)
async def test_an_invalid_patch_is_422_naming_the_field(
    client: httpx.AsyncClient,
    alice: Account,
    create_task: CreateTask,
    body: dict[str, Any],
    field: str,
) -> None:
    task = await create_task(alice)
    response = await client.patch(f"/api/tasks/{task['id']}", json=body, headers=alice.headers)
    assert response.status_code == 422
    problem = response.json()
    assert any(field in e["field"] or field in e["message"] for e in problem["errors"]), problem


async def test_a_patch_that_changes_nothing_keeps_the_version_and_emits_nothing(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, rt: Runtime
) -> None:
    task = await create_task(alice, title="same", tags=["x"])
    response = await client.patch(
        f"/api/tasks/{task['id']}", json={"title": "same", "tags": ["X"]}, headers=alice.headers
    )
    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert await event_types(rt, alice) == ["todo.task.created"]


async def test_complete_and_reopen(
    client: httpx.AsyncClient,
    alice: Account,
    create_task: CreateTask,
    clock: ManualClock,
    rt: Runtime,
) -> None:
    task = await create_task(alice)
    url = f"/api/tasks/{task['id']}"
    clock.advance(timedelta(hours=1))
    done = await client.post(f"{url}/complete", headers=alice.headers)
    assert done.status_code == 200
    assert done.json()["status"] == "completed"
    assert done.json()["completed_at"] == "2026-03-02T10:30:00Z"
    assert done.json()["version"] == 2

    # Completing again is harmless: same task, no new version, no second event.
    again = await client.post(f"{url}/complete", headers=alice.headers)
    assert again.status_code == 200
    assert again.json() == done.json()

    reopened = await client.post(f"{url}/reopen", headers=alice.headers)
    assert reopened.json()["status"] == "pending"
    assert reopened.json()["completed_at"] is None
    assert reopened.json()["version"] == 3
    assert (await client.post(f"{url}/reopen", headers=alice.headers)).json()["version"] == 3

    # Completing through PATCH is a completion too.
    patched = await client.patch(url, json={"status": "completed"}, headers=alice.headers)
    assert patched.json()["completed_at"] is not None
    assert await event_types(rt, alice) == [
        "todo.task.created",
        "todo.task.completed",
        "todo.task.updated",
        "todo.task.completed",
    ]


async def test_delete_is_204_then_404(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, rt: Runtime
) -> None:
    task = await create_task(alice, title="temporary")
    url = f"/api/tasks/{task['id']}"
    deleted = await client.delete(url, headers={**alice.headers, "if-match": '"1"'})
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await client.get(url, headers=alice.headers)).status_code == 404
    assert (await client.delete(url, headers=alice.headers)).status_code == 404
    async with rt.database.transaction() as conn:
        data = await conn.fetchval("select data from events where type = 'todo.task.deleted'")
    assert data["task"]["title"] == "temporary"


ROUTES = [
    ("GET", ""),
    ("PATCH", ""),
    ("DELETE", ""),
    ("POST", "/complete"),
    ("POST", "/reopen"),
]


@pytest.mark.parametrize(("method", "suffix"), ROUTES)
async def test_another_users_task_is_404_on_every_route(
    client: httpx.AsyncClient,
    alice: Account,
    bob: Account,
    create_task: CreateTask,
    rt: Runtime,
    method: str,
    suffix: str,
) -> None:
    task = await create_task(alice, title="private")
    kwargs: dict[str, Any] = {"json": {"title": "hijacked"}} if method == "PATCH" else {}
    response = await client.request(
        method, f"/api/tasks/{task['id']}{suffix}", headers=bob.headers, **kwargs
    )
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"
    # Exactly what a task that never existed answers: nothing leaks.
    missing = await client.request(
        method, f"/api/tasks/{uuid.uuid4()}{suffix}", headers=bob.headers, **kwargs
    )
    assert missing.status_code == 404
    unchanged = await client.get(f"/api/tasks/{task['id']}", headers=alice.headers)
    assert unchanged.json() == task
    assert await event_types(rt, bob) == []


@pytest.mark.parametrize(("method", "suffix"), ROUTES)
async def test_a_bad_uuid_in_the_path_is_422_naming_id(
    client: httpx.AsyncClient, alice: Account, method: str, suffix: str
) -> None:
    kwargs: dict[str, Any] = {"json": {"title": "x"}} if method == "PATCH" else {}
    response = await client.request(
        method, f"/api/tasks/not-a-uuid{suffix}", headers=alice.headers, **kwargs
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "id", "message": "must be a UUID"}]
