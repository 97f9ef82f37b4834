"""The realtime service with real websocket clients against uvicorn: fan-out per user,
authentication, resume with replay and a clean seam, slow consumers, heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from realtime.__main__ import WEBSOCKET_OPTIONS
from realtime.protocol import event_payload
from tests.conftest import Account, rewire, settle
from todo.clock import ManualClock
from todo.outbox import event_from_row
from todo.publishing import OutboxOnly
from todo.runtime import Runtime
from todo.tokens import issue_token
from todo_cli.dev import Stack

TIMEOUT = 10  # a safety net for a broken test, never a wait the test relies on


@pytest.fixture
async def ws_url(rt: Runtime, stack: Stack, clock: ManualClock) -> AsyncIterator[str]:
    """The whole stack served by uvicorn on a free port; timers move only with the clock."""
    clock.auto_advance = False
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()  # clients can connect at once; uvicorn accepts them when it is up
    config = uvicorn.Config(stack, lifespan="off", log_config=None, **WEBSOCKET_OPTIONS)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    yield f"ws://127.0.0.1:{listening.getsockname()[1]}"
    await stack.realtime.state.hub.close()
    server.should_exit = True
    await serving


async def open_socket(
    url: str, token: str | None, path: str = "/ws", since: int | None = None
) -> ClientConnection:
    """Connect with the token as subprotocol (`bearer, <token>`), or without one."""
    query = f"?since={since}" if since is not None else ""
    protocols = [Subprotocol("bearer"), Subprotocol(token)] if token else None
    return await connect(f"{url}{path}{query}", subprotocols=protocols, open_timeout=TIMEOUT)


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return message


async def closed_with(ws: ClientConnection) -> tuple[int, list[Any]]:
    """The close code, and whatever was received before it."""
    received = []
    with contextlib.suppress(ConnectionClosed):
        while True:
            received.append(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert ws.close_code is not None
    return ws.close_code, received


async def nothing_pending(ws: ClientConnection) -> None:
    """Prove nothing is queued for this socket: a ping's answer comes next."""
    await ws.send(json.dumps({"type": "ping"}))
    assert await receive(ws) == {"type": "pong"}


async def test_every_client_of_a_user_gets_a_change_and_nobody_else_does(
    ws_url: str, client: httpx.AsyncClient, alice: Account, bob: Account, rt: Runtime
) -> None:
    phone = await open_socket(ws_url, alice.token)
    laptop = await open_socket(ws_url, None)
    await laptop.send(json.dumps({"type": "auth", "token": alice.token}))
    stranger = await open_socket(ws_url, bob.token, path=f"/ws/{bob.id}")
    for ws in (phone, laptop, stranger):
        assert await receive(ws) == {"type": "sync", "events": [], "seq": 0, "more": False}

    created = await client.post("/api/tasks", json={"title": "shared"}, headers=alice.headers)
    await settle(rt)
    for ws in (phone, laptop):
        message = await receive(ws)
        assert message["type"] == "task.created"
        assert message["seq"] == 1
        assert message["data"]["task"] == created.json()
    await nothing_pending(stranger)
    for ws in (phone, laptop, stranger):
        await ws.close()


async def test_notifications_are_pushed_too(
    ws_url: str,
    client: httpx.AsyncClient,
    alice: Account,
    rt: Runtime,
    stack: Stack,
    clock: ManualClock,
) -> None:
    ws = await open_socket(ws_url, alice.token)
    await receive(ws)
    soon = (clock.now() + timedelta(minutes=1)).isoformat()
    await client.post(
        "/api/tasks", json={"title": "t", "reminders": [{"remind_at": soon}]}, headers=alice.headers
    )
    await settle(rt)
    clock.advance(timedelta(minutes=2))
    await stack.tick()
    await settle(rt)
    types: list[str] = []
    while len(types) < 4:
        message = await receive(ws)
        if message["type"] != "ping":  # advancing the clock two minutes brought heartbeats
            types.append(message["type"])
    assert types == ["task.created", "reminder.scheduled", "reminder.due", "notification.created"]
    await ws.close()


@pytest.mark.parametrize("case", ["bad-signature", "expired", "garbage", "read-only-other-aud"])
async def test_a_bad_token_closes_with_4401_and_nothing_sent(
    ws_url: str, alice: Account, rt: Runtime, case: str
) -> None:
    now = rt.clock.now()
    tokens = {
        "bad-signature": issue_token(
            rt.settings.with_changes(jwt_secret="another-" + "k" * 40), alice.id, [], [], now
        ),
        "expired": issue_token(rt.settings, alice.id, [], [], now - timedelta(hours=2)),
        "garbage": "not-a-token",
        "read-only-other-aud": issue_token(
            rt.settings.with_changes(jwt_audience="other"), alice.id, [], [], now
        ),
    }
    for via_message in (False, True):
        ws = await open_socket(ws_url, None if via_message else tokens[case])
        if via_message:
            await ws.send(json.dumps({"type": "auth", "token": tokens[case]}))
        code, received = await closed_with(ws)
        assert (code, received) == (4401, [])


async def test_no_token_closes_with_4401_once_the_auth_wait_is_over(
    ws_url: str, alice: Account, clock: ManualClock
) -> None:
    silent = await open_socket(ws_url, None)
    late = await open_socket(ws_url, None)
    await asyncio.sleep(0.05)  # let the server start waiting (the clock decides how long)
    clock.advance(timedelta(seconds=5))
    assert await closed_with(silent) == (4401, [])
    with contextlib.suppress(ConnectionClosed):  # the token comes after the wait is over
        await late.send(json.dumps({"type": "auth", "token": alice.token}))
    assert await closed_with(late) == (4401, [])


async def test_a_channel_of_another_user_is_refused(
    ws_url: str, alice: Account, bob: Account
) -> None:
    ws = await open_socket(ws_url, alice.token, path=f"/ws/{bob.id}")
    code, received = await closed_with(ws)
    assert (code, received) == (4403, [])


async def test_a_token_that_expires_closes_the_socket_when_it_expires(
    ws_url: str, alice: Account, rt: Runtime, clock: ManualClock
) -> None:
    short = rt.settings.with_changes(jwt_ttl_seconds=90)
    ws = await open_socket(ws_url, issue_token(short, alice.id, [], ["tasks:read"], clock.now()))
    assert (await receive(ws))["type"] == "sync"
    clock.advance(timedelta(seconds=20))  # a heartbeat comes and is answered
    assert await receive(ws) == {"type": "ping"}
    await ws.send(json.dumps({"type": "pong"}))
    clock.advance(timedelta(seconds=71))
    code, _ = await closed_with(ws)
    assert code == 4401


async def test_a_socket_closes_at_its_token_expiry_even_when_the_timers_sleep_past_it(
    ws_url: str, alice: Account, bob: Account, rt: Runtime, clock: ManualClock
) -> None:
    # Bob's socket sets the timers sleeping until the first heartbeat, 20 s away; Alice's
    # token expires 5 s after she joins: her socket must close then, not at the heartbeat.
    steady = await open_socket(ws_url, bob.token)
    assert (await receive(steady))["type"] == "sync"
    short = rt.settings.with_changes(jwt_ttl_seconds=5)
    ws = await open_socket(ws_url, issue_token(short, alice.id, [], ["tasks:read"], clock.now()))
    assert (await receive(ws))["type"] == "sync"
    clock.advance(timedelta(seconds=4))
    await nothing_pending(ws)
    clock.advance(timedelta(seconds=1))
    assert await closed_with(ws) == (4401, [])
    await nothing_pending(steady)  # no heartbeat came with it: it is not yet due
    await steady.close()


async def test_a_token_without_tasks_read_closes_with_4403_and_nothing_sent(
    ws_url: str, alice: Account, rt: Runtime
) -> None:
    token = issue_token(rt.settings, alice.id, ["user"], ["tasks:write"], rt.clock.now())
    for via_message in (False, True):
        ws = await open_socket(ws_url, None if via_message else token)
        if via_message:
            await ws.send(json.dumps({"type": "auth", "token": token}))
        code, received = await closed_with(ws)
        assert (code, received) == (4403, [])
        assert ws.close_reason == "the token lacks tasks:read"


async def test_a_token_of_a_deleted_account_closes_with_4401(
    ws_url: str, alice: Account, rt: Runtime
) -> None:
    async with rt.database.transaction() as conn:
        await conn.execute("delete from users where id = $1", alice.id)
    ws = await open_socket(ws_url, alice.token)
    assert await closed_with(ws) == (4401, [])
    assert ws.close_reason == "the token's account no longer exists"


async def make_tasks(client: httpx.AsyncClient, account: Account, count: int) -> None:
    for i in range(count):
        response = await client.post("/api/tasks", json={"title": f"t{i}"}, headers=account.headers)
        assert response.status_code == 201


async def collect_until(ws: ClientConnection, seq: int) -> list[int]:
    """Sequence numbers received, from sync batches and live pushes, up to `seq`."""
    seen: list[int] = []
    while not seen or seen[-1] < seq:
        message = await receive(ws)
        if message["type"] == "sync":
            seen += [e["seq"] for e in message["events"]]
        elif "seq" in message:
            seen.append(message["seq"])
    return seen


async def test_resuming_after_500_missed_events_gives_exactly_those_in_order_then_live(
    ws_url: str, client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    await make_tasks(client, alice, 3)
    await settle(rt)
    await make_tasks(client, alice, 500)  # while away
    await settle(rt)
    ws = await open_socket(ws_url, alice.token, since=3)
    batches = []
    while True:
        message = await receive(ws)
        assert message["type"] == "sync"
        batches.append(message)
        if not message["more"]:
            break
    assert [len(b["events"]) for b in batches] == [200, 200, 100]
    assert [e["seq"] for b in batches for e in b["events"]] == list(range(4, 504))
    assert batches[-1]["seq"] == 503

    await make_tasks(client, alice, 1)
    await settle(rt)
    live = await receive(ws)
    assert (live["type"], live["seq"]) == ("task.created", 504)

    # A resume message replays from any point, on the same socket.
    await ws.send(json.dumps({"type": "resume", "since": 500}))
    replay = await receive(ws)
    assert [e["seq"] for e in replay["events"]] == [501, 502, 503, 504]
    await ws.close()


async def test_the_seam_between_replay_and_live_has_no_gap_or_repeat_under_concurrent_writes(
    ws_url: str, client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    await make_tasks(client, alice, 50)
    writing = asyncio.create_task(make_tasks(client, alice, 150))
    await asyncio.sleep(0)
    ws = await open_socket(ws_url, alice.token, since=0)
    await writing
    await settle(rt)
    assert await collect_until(ws, 200) == list(range(1, 201))
    await nothing_pending(ws)
    await ws.close()


async def test_a_gap_in_live_pushes_is_filled_from_the_change_feed(
    ws_url: str, client: httpx.AsyncClient, alice: Account, rt: Runtime, stack: Stack
) -> None:
    ws = await open_socket(ws_url, alice.token)
    await receive(ws)
    await make_tasks(client, alice, 3)
    await settle(rt)
    assert await collect_until(ws, 3) == [1, 2, 3]
    # The pushes for 4 and 5 never come (the bus lost them); when 6 arrives, the service
    # fetches 4 and 5 from the change feed first.
    lost = rewire(rt, publisher=OutboxOnly())
    await make_tasks(client, alice, 2)
    await lost.outgoing.drain()
    rewire(rt)
    await make_tasks(client, alice, 1)
    await settle(rt)
    assert await collect_until(ws, 6) == [4, 5, 6]
    await ws.close()


async def test_a_client_too_far_behind_is_closed_with_1013_and_can_resume(
    ws_url: str, client: httpx.AsyncClient, alice: Account, rt: Runtime, stack: Stack
) -> None:
    rewire(rt, ws_queue_size=5)
    ws = await open_socket(ws_url, alice.token)
    assert (await receive(ws))["seq"] == 0
    await make_tasks(client, alice, 10)
    hub = stack.realtime.state.hub
    # Ten pushes in one go, faster than any socket drains: the queue of five overflows.
    async with rt.database.transaction() as conn:
        rows = await conn.fetch("select * from events where user_id = $1 order by seq", alice.id)
    for row in rows:
        event = event_from_row(row)
        hub.publish(alice.id, event_payload(event), event.time)
    code, _ = await closed_with(ws)
    assert code == 1013
    await settle(rt)
    again = await open_socket(ws_url, alice.token, since=0)
    assert await collect_until(again, 10) == list(range(1, 11))
    await again.close()


async def test_a_silent_peer_is_dropped_after_a_missed_heartbeat(
    ws_url: str, alice: Account, bob: Account, clock: ManualClock
) -> None:
    silent = await open_socket(ws_url, alice.token)
    chatty = await open_socket(ws_url, bob.token)
    for ws in (silent, chatty):
        await receive(ws)
    for _ in range(3):
        clock.advance(timedelta(seconds=20))
        assert await receive(chatty) == {"type": "ping"}
        await chatty.send(json.dumps({"type": "pong"}))
        await nothing_pending(chatty)
    code, received = await closed_with(silent)
    assert code == 1001
    assert [json.loads(m) for m in received] == [{"type": "ping"}]
    await nothing_pending(chatty)  # still connected
    await chatty.close()


async def test_protocol_errors_are_answered_not_fatal(ws_url: str, alice: Account) -> None:
    ws = await open_socket(ws_url, alice.token)
    await receive(ws)
    for bad in ["not json", "[]", '{"type": "dance"}', '{"type": "resume", "since": -1}']:
        await ws.send(bad)
        assert (await receive(ws))["type"] == "error"
    await nothing_pending(ws)
    bad_since = await open_socket(ws_url, alice.token, since=None, path="/ws?since=abc")
    code, _ = await closed_with(bad_since)
    assert code == 1008
    await ws.close()


async def test_a_position_past_a_bigint_is_a_protocol_error_not_try_again_later(
    ws_url: str, alice: Account
) -> None:
    """It used to reach Postgres as a bigint overflow, and the socket closed 1013."""
    too_far = 2**63
    ws = await open_socket(ws_url, alice.token)
    await receive(ws)
    for bad in [str(too_far), "9" * 5000]:
        await ws.send('{"type": "resume", "since": ' + bad + "}")
        assert (await receive(ws))["type"] == "error"
    await ws.send(json.dumps({"type": "resume", "since": too_far - 1}))
    assert (await receive(ws))["type"] == "sync"  # the last bigint is a position
    await nothing_pending(ws)
    await ws.close()
    for since in [str(too_far), "9" * 5000]:
        refused = await open_socket(ws_url, alice.token, path=f"/ws?since={since}")
        code, received = await closed_with(refused)
        assert (code, received) == (1008, [])


async def test_reminder_moves_and_deletes_are_pushed(
    ws_url: str, client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    ws = await open_socket(ws_url, alice.token)
    await receive(ws)
    task = (
        await client.post(
            "/api/tasks",
            json={
                "title": "t",
                "due_at": "2026-03-05T17:00:00Z",
                "reminders": [{"before": "PT1H"}],
            },
            headers=alice.headers,
        )
    ).json()
    await client.patch(
        f"/api/tasks/{task['id']}", json={"due_at": "2026-03-06T17:00:00Z"}, headers=alice.headers
    )
    (reminder,) = (await client.get("/api/reminders", headers=alice.headers)).json()["items"]
    await client.delete(f"/api/reminders/{reminder['id']}", headers=alice.headers)
    await settle(rt)
    messages = [await receive(ws) for _ in range(5)]
    assert [m["type"] for m in messages] == [
        "task.created",
        "reminder.scheduled",
        "task.updated",
        "reminder.updated",
        "reminder.deleted",
    ]
    assert messages[3]["data"]["reminder"]["remind_at"] == "2026-03-06T16:00:00Z"
    assert messages[4]["data"]["reminder"]["id"] == reminder["id"]
    await ws.close()
