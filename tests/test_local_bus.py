"""The in-process bus keeps Dapr's delivery rules: retries with growing delays, dead
letters after the last attempt, replay, and nothing marked published before delivery."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from tests.conftest import Account, settle
from tests.test_tick import tick
from todo import dead_letters
from todo.bus import Delivery, LocalBus
from todo.clock import ManualClock
from todo.runtime import Runtime
from todo_cli.dev import Stack, delivery_retry


def the_bus(rt: Runtime) -> LocalBus:
    assert isinstance(rt.publisher, LocalBus)
    return rt.publisher


class Flaky:
    """A subscriber that answers `failures` errors before it takes events."""

    def __init__(self, failures: int, answer: Delivery | None = None) -> None:
        self.failures = failures
        self.answer = answer or Delivery(500)
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, event: dict[str, Any]) -> Delivery:
        self.calls.append(event)
        if len(self.calls) <= self.failures:
            return self.answer
        return Delivery(200, "SUCCESS")


async def published_at(rt: Runtime, event_type: str) -> list[Any]:
    async with rt.database.transaction() as conn:
        rows = await conn.fetch("select published_at from events where type = $1", event_type)
    return [r["published_at"] for r in rows]


async def test_a_consumer_that_fails_twice_is_retried_with_growing_delays(
    rt: Runtime, client: httpx.AsyncClient, alice: Account, clock: ManualClock
) -> None:
    flaky = Flaky(failures=2)
    the_bus(rt).subscribe("flaky", "task.events", flaky)
    await client.post("/api/tasks", json={"title": "retry me"}, headers=alice.headers)
    await settle(rt)
    assert len(flaky.calls) == 3
    assert clock.sleeps == [0.5, 0.75]
    assert [p is not None for p in await published_at(rt, "todo.task.created")] == [True]


async def test_retry_and_drop_answers_are_read_as_dapr_reads_them(
    rt: Runtime, client: httpx.AsyncClient, alice: Account, clock: ManualClock
) -> None:
    retry = Flaky(failures=1, answer=Delivery(200, "RETRY"))
    gone = Flaky(failures=99, answer=Delivery(404))
    the_bus(rt).subscribe("retry", "task.events", retry)
    the_bus(rt).subscribe("gone", "task.events", gone)
    await client.post("/api/tasks", json={"title": "x"}, headers=alice.headers)
    await settle(rt)
    assert len(retry.calls) == 2  # RETRY in a 2xx body is a failure
    assert len(gone.calls) == 1  # 404 drops the event: no retry
    assert clock.sleeps == [0.5]


async def test_an_event_is_not_marked_published_until_every_subscriber_has_it(
    rt: Runtime, client: httpx.AsyncClient, alice: Account
) -> None:
    import asyncio

    release = asyncio.Event()

    async def slow(event: dict[str, Any]) -> Delivery:
        await release.wait()
        return Delivery(200)

    the_bus(rt).subscribe("slow", "task.events", slow)
    await client.post("/api/tasks", json={"title": "x"}, headers=alice.headers)
    await rt.outgoing.drain()
    for _ in range(5):
        await asyncio.sleep(0)
    assert await published_at(rt, "todo.task.created") == [None]
    release.set()
    await settle(rt)
    assert [p is not None for p in await published_at(rt, "todo.task.created")] == [True]


async def test_a_consumer_that_always_fails_ends_in_the_dead_letters_and_can_be_replayed(
    rt: Runtime, client: httpx.AsyncClient, alice: Account, clock: ManualClock, stack: Stack
) -> None:
    broken = Flaky(failures=10**6)
    the_bus(rt).subscribe("broken", "task.events", broken)
    created = await client.post("/api/tasks", json={"title": "poison"}, headers=alice.headers)
    await settle(rt)
    retry = delivery_retry()
    assert len(broken.calls) == retry.retries + 1
    assert clock.sleeps == [retry.backoff(n) for n in range(1, retry.retries + 1)]
    assert clock.sleeps[:3] == [0.5, 0.75, 1.125]  # Dapr's own first interval and multiplier
    assert max(clock.sleeps) == retry.max_interval

    async with rt.database.transaction() as conn:
        letters = await dead_letters.recent(conn)
    assert len(letters) == 1
    letter = letters[0]
    # As Dapr forwards it: the event as published, naming its own topic, not who gave up.
    assert letter.topic == "task.events"
    assert letter.subscriber is None
    assert letter.event_type == "todo.task.created"
    assert letter.reason == "delivery retries exhausted"
    assert letter.event is not None
    assert letter.event["data"]["task"]["id"] == created.json()["id"]
    # Dead-lettered counts as taken: the event is published and the other consumers have it.
    assert [p is not None for p in await published_at(rt, "todo.task.created")] == [True]

    # The consumer is fixed; replay sends the event once more through the relay.
    broken.failures = 0
    async with rt.database.transaction() as conn:
        assert await dead_letters.replay(conn, letter.id, clock.now()) == "queued for the relay"
    clock.advance(timedelta(seconds=11))
    await tick(stack)
    await settle(rt)
    assert len(broken.calls) == retry.retries + 2
    assert broken.calls[-1]["id"] == letter.event_id
    async with rt.database.transaction() as conn:
        audited = await conn.fetchval("select count(*) from audit_log")
        replayed = await dead_letters.get(conn, letter.id)
    assert audited == 1  # the audit consumer saw the replay as a repeat
    assert replayed.replay_count == 1


async def test_replaying_something_that_is_not_ours_says_so(
    rt: Runtime, clock: ManualClock
) -> None:
    async with rt.database.transaction() as conn:
        letter_id = await dead_letters.store(
            conn, topic="task.events", reason="not a CloudEvent: x", now=clock.now(), raw=b"garbage"
        )
        assert (await dead_letters.replay(conn, letter_id, clock.now())).startswith(
            "not replayable"
        )
