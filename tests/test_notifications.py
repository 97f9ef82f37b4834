"""The notify function's read API: list (unread filter, cursor), mark read, read all."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx

from tests.conftest import Account, settle
from tests.test_tick import tick
from todo.clock import ManualClock
from todo.runtime import Runtime
from todo_cli.dev import Stack


async def make_notifications(
    client: httpx.AsyncClient,
    account: Account,
    clock: ManualClock,
    stack: Stack,
    rt: Runtime,
    n: int,
) -> None:
    soon = (clock.now() + timedelta(minutes=1)).isoformat()
    for i in range(n):
        await client.post(
            "/api/tasks",
            json={"title": f"task {i}", "reminders": [{"remind_at": soon}]},
            headers=account.headers,
        )
    clock.advance(timedelta(minutes=2))
    await tick(stack)
    await settle(rt)


async def page(client: httpx.AsyncClient, account: Account, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/notifications", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_list_read_and_read_all(
    client: httpx.AsyncClient,
    alice: Account,
    bob: Account,
    clock: ManualClock,
    stack: Stack,
    rt: Runtime,
) -> None:
    await make_notifications(client, alice, clock, stack, rt, 5)
    assert (await page(client, bob))["items"] == []

    seen, cursor = [], None
    while True:
        current = await page(client, alice, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += current["items"]
        cursor = current["next_cursor"]
        if not cursor:
            break
    assert len({n["id"] for n in seen}) == 5

    first = seen[0]["id"]
    read = await client.post(f"/api/notifications/{first}/read", headers=alice.headers)
    assert read.status_code == 200
    assert read.json()["read_at"] is not None
    again = await client.post(f"/api/notifications/{first}/read", headers=alice.headers)
    assert again.json()["read_at"] == read.json()["read_at"]  # reading twice keeps the first time
    assert len((await page(client, alice, unread="true"))["items"]) == 4
    assert [n["id"] for n in (await page(client, alice, unread="false"))["items"]] == [first]

    stolen = await client.post(f"/api/notifications/{first}/read", headers=bob.headers)
    assert stolen.status_code == 404
    missing = await client.post(f"/api/notifications/{uuid.uuid4()}/read", headers=alice.headers)
    assert missing.status_code == 404

    everything = await client.post("/api/notifications/read-all", headers=alice.headers)
    assert everything.json() == {"updated": 4}
    assert (await page(client, alice, unread="true"))["items"] == []


async def test_notification_queries_are_validated(
    client: httpx.AsyncClient, alice: Account
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"unread": "perhaps"}, "unread"),
        ({"limit": 0}, "limit"),
        ({"cursor": "zz"}, "cursor"),
    ]
    for params, field in cases:
        response = await client.get("/api/notifications", params=params, headers=alice.headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
    bad_id = await client.post("/api/notifications/not-a-uuid/read", headers=alice.headers)
    assert bad_id.status_code == 422
