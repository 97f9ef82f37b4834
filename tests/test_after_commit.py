"""The after-commit publisher: each user's events leave in sequence order, whatever order
their transactions' coroutines reach the publisher in; lanes run side by side; what the
publisher could not send in time is the relay's alone; a stopping process sends what it
holds.

Real Postgres throughout; the bus is a recording stand-in for the Publisher protocol, and
respx only checks the shape of the requests the Dapr publisher makes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import respx

from tests.conftest import START, Account, rewire
from todo import tasks
from todo.clock import ManualClock
from todo.dapr import DaprPublisher
from todo.db import Connection, Database
from todo.event_types import Payload, TaskCreated
from todo.events import Event, topic_of
from todo.publishing import MAX_RELAY_WAIT, RELAY_ATTEMPTS, OutboxOnly
from todo.reminder_events import ReminderScheduled
from todo.runtime import Runtime
from todo.task_models import TaskCreate
from todo.unit_of_work import unit_of_work
from todo_cli.dev import Stack

RELAYED = "relayed the events left in the outbox"


class Recording:
    """A bus that takes everything, in the order it is handed over; a user's events can
    be held at the door until the test lets them through."""

    relays_untaken = True

    def __init__(self) -> None:
        self.sent: list[Event] = []
        self.doors: dict[UUID, asyncio.Event] = {}
        self.refusing = False  # a sidecar that answers 500: nothing taken
        self.takes_at_most: int | None = None  # per request: a bus working through a burst
        self._arrived = asyncio.Condition()

    async def publish(self, events: Sequence[Event]) -> Sequence[UUID]:
        if self.refusing:
            return []
        events = events[: self.takes_at_most]
        for user_id in {e.user_id for e in events}:
            if user_id in self.doors:
                await self.doors[user_id].wait()
        async with self._arrived:
            self.sent += events
            self._arrived.notify_all()
        return [e.id for e in events]

    async def until(self, done: Callable[[], bool]) -> None:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(done), 10)

    def subjects(self, user_id: UUID) -> list[str]:
        return [e.subject for e in self.sent if e.user_id == user_id]

    async def close(self) -> None:
        return None


class Pausing:
    """The real database, with the first of some call held up until the test lets go."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self.paused = asyncio.Event()
        self.go_on = asyncio.Event()
        self._first = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._database, name)

    def _take_first(self) -> bool:
        first, self._first = self._first, False
        return first

    async def _pause(self) -> None:
        self.paused.set()
        await self.go_on.wait()


class PauseAfterFirstCommit(Pausing):
    """The first transaction's caller resumes after its commit only when let go: the
    moment in which the user's next change can commit and reach the publisher first."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        first = self._take_first()
        async with self._database.transaction() as conn:
            yield conn
        if first:
            await self._pause()


TASK_CREATED = TaskCreated.event_type
REMINDER_SCHEDULED = ReminderScheduled.event_type


class Touched(Payload):
    """A bare task event: these tests are about the hand-over, not the task."""

    event_type = TASK_CREATED

    title: str = ""


async def change(user: Account, subject: str) -> None:
    async with unit_of_work() as work:
        await work.emit(user.id, Touched(title=subject), subject)


async def published(rt: Runtime) -> dict[str, bool]:
    async with rt.database.transaction() as conn:
        rows = await conn.fetch("select subject, published_at from events order by subject")
    return {r["subject"]: r["published_at"] is not None for r in rows}


async def eventually(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait (up to 10 s) for `condition`: a relay marks what it sent, and says so, just
    after the bus has taken it."""
    async with asyncio.timeout(10):
        # Polled: the relay's task offers nothing to wait on.
        while not await condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_a_change_that_commits_first_waits_for_the_users_earlier_change(
    rt: Runtime, alice: Account
) -> None:
    database = PauseAfterFirstCommit(rt.database)
    bus = Recording()
    wired = rewire(rt, publisher=bus, database=database)
    first = asyncio.create_task(change(alice, "first"))
    await database.paused.wait()
    # The first change has committed; its coroutine has not yet reached the publisher.
    await change(alice, "second")
    for _ in range(20):
        await asyncio.sleep(0)
    assert bus.sent == []

    database.go_on.set()
    await first
    await wired.outgoing.drain()
    assert [(e.subject, e.seq) for e in bus.sent] == [("first", 1), ("second", 2)]
    assert await published(rt) == {"first": True, "second": True}


class PauseFirstStatement(Pausing):
    """The first single statement (a create without reminders is one) waits, until let
    go, before it is sent or after it has committed and answered."""

    def __init__(self, database: Database, *, after_commit: bool) -> None:
        super().__init__(database)
        self._after_commit = after_commit

    async def read(self, operation: Callable[[Connection], Awaitable[Any]]) -> Any:
        first = self._take_first()
        if first and not self._after_commit:
            await self._pause()
        result = await self._database.read(operation)
        if first and self._after_commit:
            await self._pause()
        return result


async def create(user: Account, title: str) -> None:
    await tasks.create_task(user.id, TaskCreate(title=title))


def titles(bus: Recording) -> list[tuple[str, int]]:
    """What was sent, in order: a created task's title, or a `change`'s subject."""
    return [(e.data["task"]["title"] if "task" in e.data else e.subject, e.seq) for e in bus.sent]


@pytest.mark.parametrize(
    ("after_commit", "order"),
    [
        # It committed first (sequence 1); its answer reaches the line last.
        (True, ["paused", "second", "third"]),
        # Sent last, it is numbered last; the line cannot know that before it answers.
        (False, ["second", "third", "paused"]),
    ],
    ids=["answered late", "sent late"],
)
async def test_a_paused_create_holds_up_the_users_later_changes_then_all_go_in_sequence_order(
    rt: Runtime, alice: Account, after_commit: bool, order: list[str]
) -> None:
    database = PauseFirstStatement(rt.database, after_commit=after_commit)
    bus = Recording()
    wired = rewire(rt, publisher=bus, database=database)
    paused = asyncio.create_task(create(alice, "paused"))
    await database.paused.wait()
    await create(alice, "second")
    await change(alice, "third")
    for _ in range(20):
        await asyncio.sleep(0)
    assert bus.sent == []

    database.go_on.set()
    await paused
    await wired.outgoing.drain()
    assert titles(bus) == [(title, seq) for seq, title in enumerate(order, start=1)]
    assert await published_count(rt) == 3


async def published_count(rt: Runtime) -> int:
    count: int = await rt.database.fetchval(
        "select count(*) from events where published_at is not null"
    )
    return count


async def test_a_rolled_back_change_holds_up_nothing(rt: Runtime, alice: Account) -> None:
    bus = Recording()
    wired = rewire(rt, publisher=bus)

    async def failing_change() -> None:
        async with unit_of_work() as work:
            await work.emit(alice.id, Touched(), "rolled back")
            raise RuntimeError("a later step failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    await change(alice, "kept")
    await wired.outgoing.drain()
    assert [(e.subject, e.seq) for e in bus.sent] == [("kept", 1)]
    assert await published(rt) == {"kept": True}


async def test_a_slow_user_holds_up_only_their_own_lane(
    rt: Runtime, alice: Account, bob: Account
) -> None:
    lanes = next(n for n in range(2, 64) if alice.id.int % n != bob.id.int % n)
    bus = Recording()
    bus.doors[alice.id] = asyncio.Event()
    wired = rewire(rt, publisher=bus, publish_concurrency=lanes)
    for i in range(3):
        await change(alice, f"alice {i}")
        await change(bob, f"bob {i}")

    await bus.until(lambda: len(bus.subjects(bob.id)) == 3)
    assert bus.subjects(alice.id) == []
    bus.doors[alice.id].set()
    await wired.outgoing.drain()
    assert bus.subjects(alice.id) == ["alice 0", "alice 1", "alice 2"]
    assert bus.subjects(bob.id) == ["bob 0", "bob 1", "bob 2"]


async def test_an_event_the_publisher_could_not_send_in_time_goes_by_the_relay_once(
    rt: Runtime, alice: Account, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """The process that handed the event over relays it itself once it is old enough for
    the relay, not a minute later at the next tick; the tick then finds nothing to send."""
    assert isinstance(rt.clock, ManualClock)
    rt.clock.auto_advance = False  # the relay waits on the clock: the test moves it
    half = timedelta(seconds=rt.settings.relay_after_seconds / 2)
    bus = Recording()
    wired = rewire(rt, publisher=bus)
    with caplog.at_level(logging.INFO, logger="todo.publishing"):
        async with unit_of_work() as work:
            await work.emit(alice.id, Touched(), "late")
            # A slow transaction: at commit the event is past the hand-over age already.
            rt.clock.advance(half + timedelta(seconds=1))
        await wired.outgoing.drain()
        rt.clock.advance(half - timedelta(seconds=1))
        await asyncio.sleep(0.05)
        assert bus.sent == []  # not before the relay's age
        rt.clock.advance(timedelta(seconds=1))

        async def relayed() -> bool:
            return any(r.getMessage() == RELAYED for r in caplog.records)

        await eventually(relayed)
    assert [e.subject for e in bus.sent] == ["late"]
    assert await published(rt) == {"late": True}
    (record,) = [r for r in caplog.records if r.getMessage() == RELAYED]
    assert record.__dict__["relayed"] == 1

    status, body = await stack.tick()
    assert status == 200
    assert json.loads(body)["relayed"] == 0
    assert len(bus.sent) == 1


async def test_events_the_bus_refused_are_relayed_by_their_process_not_left_to_the_tick(
    rt: Runtime, alice: Account, caplog: pytest.LogCaptureFixture
) -> None:
    """A sidecar restarting refuses a moment's events; the process relays them once they
    reach the relay's age, trying again (with backoff) while the bus still refuses."""
    assert isinstance(rt.clock, ManualClock)
    rt.clock.auto_advance = False
    relay_age = timedelta(seconds=rt.settings.relay_after_seconds)
    bus = Recording()
    bus.refusing = True
    wired = rewire(rt, publisher=bus)
    with caplog.at_level(logging.INFO, logger="todo.publishing"):
        await change(alice, "refused")
        await wired.outgoing.drain()

        async def relayed(times: int) -> bool:
            return sum(r.getMessage() == RELAYED for r in caplog.records) >= times

        rt.clock.advance(relay_age)
        await eventually(lambda: relayed(1))  # still refused: tried again later
        assert bus.sent == []
        bus.refusing = False
        rt.clock.advance(relay_age)  # the first wait after a failure is twice as long
        await asyncio.sleep(0.05)
        assert bus.sent == []
        rt.clock.advance(relay_age)
        await eventually(lambda: relayed(2))
    assert bus.subjects(alice.id) == ["refused"]
    assert await published(rt) == {"refused": True}


async def test_a_process_relays_what_the_bus_refuses_for_as_long_as_it_takes(
    rt: Runtime, alice: Account, caplog: pytest.LogCaptureFixture
) -> None:
    """A broker down for long: the process keeps relaying, at most MAX_RELAY_WAIT apart,
    rather than leaving the events to an idle tick's look hours later."""
    assert isinstance(rt.clock, ManualClock)
    rt.clock.auto_advance = False
    bus = Recording()
    bus.refusing = True
    wired = rewire(rt, publisher=bus)
    refused_relays = RELAY_ATTEMPTS * 2 + 1
    with caplog.at_level(logging.INFO, logger="todo.publishing"):
        await change(alice, "refused for long")
        await wired.outgoing.drain()

        async def relayed(times: int) -> bool:
            return sum(r.getMessage() == RELAYED for r in caplog.records) >= times

        for attempt in range(1, refused_relays + 1):
            rt.clock.advance(MAX_RELAY_WAIT)
            await eventually(lambda: relayed(attempt))  # noqa: B023 (awaited at once)
        assert bus.sent == []
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert [r.__dict__["failures"] for r in warnings] == [RELAY_ATTEMPTS, 2 * RELAY_ATTEMPTS]
        bus.refusing = False
        rt.clock.advance(MAX_RELAY_WAIT)
        await eventually(lambda: relayed(refused_relays + 1))
    assert bus.subjects(alice.id) == ["refused for long"]
    assert await published(rt) == {"refused for long": True}


async def test_a_bus_that_takes_part_of_each_relay_is_relayed_to_without_backing_off(
    rt: Runtime, alice: Account, caplog: pytest.LogCaptureFixture
) -> None:
    """A bus working through a burst takes some of what each relay run gives it: the
    process relays again at the relay's age, as long as each run gets some through, rather
    than waiting longer each time as it does for a bus that takes nothing."""
    assert isinstance(rt.clock, ManualClock)
    rt.clock.auto_advance = False
    relay_age = timedelta(seconds=rt.settings.relay_after_seconds)
    bus = Recording()
    bus.refusing = True
    wired = rewire(rt, publisher=bus)
    with caplog.at_level(logging.INFO, logger="todo.publishing"):
        for n in range(3):
            await change(alice, f"burst {n}")
        await wired.outgoing.drain()
        bus.refusing = False
        bus.takes_at_most = 1

        async def relayed(times: int) -> bool:
            return sum(r.getMessage() == RELAYED for r in caplog.records) >= times

        for run in range(1, 4):
            rt.clock.advance(relay_age)
            await eventually(lambda: relayed(run))  # noqa: B023 (awaited at once)
            assert len(bus.sent) == run
    assert bus.subjects(alice.id) == ["burst 0", "burst 1", "burst 2"]
    assert await published(rt) == {"burst 0": True, "burst 1": True, "burst 2": True}


async def test_after_a_crash_a_users_new_events_wait_for_the_relay_to_send_the_old_ones(
    rt: Runtime, alice: Account, bob: Account, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(rt.clock, ManualClock)
    rt.clock.auto_advance = False  # the relay waits on the clock: the test moves it
    half = timedelta(seconds=rt.settings.relay_after_seconds / 2)
    rewire(rt, publisher=OutboxOnly())  # a process that dies before publishing
    await change(alice, "left by the crash")
    rt.clock.advance(half + timedelta(seconds=1))
    bus = Recording()
    wired = rewire(rt, publisher=bus)
    await change(alice, "after the crash")
    await change(bob, "unaffected")
    await wired.outgoing.drain()
    assert [e.subject for e in bus.sent] == ["unaffected"]
    # Finding alice's older event in the relay's hands, this process relays it itself.
    rt.clock.advance(half)
    await bus.until(lambda: bus.subjects(alice.id) == ["left by the crash"])

    # The event it left to the relay behind that one goes at the next tick.
    rt.clock.advance(timedelta(seconds=rt.settings.relay_after_seconds))
    with caplog.at_level(logging.INFO, logger="todo.tick"):
        await stack.tick()
    assert bus.subjects(alice.id) == ["left by the crash", "after the crash"]
    (record,) = [r for r in caplog.records if r.name == "todo.tick"]
    assert (record.levelno, record.getMessage(), record.__dict__["relayed"]) == (
        logging.INFO,
        "relayed events from the outbox",
        1,
    )
    # Once the relay has sent what this process left it, the user's events go directly.
    await change(alice, "later")
    await wired.outgoing.drain()
    assert bus.subjects(alice.id) == ["left by the crash", "after the crash", "later"]
    assert set((await published(rt)).values()) == {True}


async def test_closing_publishes_what_the_lanes_still_hold(rt: Runtime, alice: Account) -> None:
    bus = Recording()
    wired = rewire(rt, publisher=bus)
    for i in range(3):
        await change(alice, f"task {i}")
    await wired.outgoing.close()
    assert bus.subjects(alice.id) == ["task 0", "task 1", "task 2"]
    assert await published(rt) == {"task 0": True, "task 1": True, "task 2": True}


def event(user_id: UUID, seq: int, type: str = TASK_CREATED) -> Event:
    return Event(
        uuid4(), user_id, seq, type, "/functions/tests", f"s{seq}", topic_of(type), {}, START
    )


SIDECAR = "http://127.0.0.1:3500"


def bulk(topic: str) -> str:
    return f"{SIDECAR}/v1.0-alpha1/publish/bulk/pubsub/{topic}"


async def test_a_bulk_request_never_holds_two_events_of_one_user(rt: Runtime) -> None:
    """Dapr keeps no order among one request's entries, so a user's second event waits
    for the answer to the request holding their first."""
    alice, bob = uuid4(), uuid4()
    events = [
        event(alice, 1),
        event(bob, 1),
        event(alice, 2, REMINDER_SCHEDULED),
        event(alice, 3),
        event(bob, 2),
    ]
    publisher = DaprPublisher(rt.settings.with_changes(dapr_http_port=3500))
    with respx.mock() as mock:
        tasks = mock.post(bulk("task.events")).mock(return_value=httpx.Response(204))
        reminders = mock.post(bulk("reminder.events")).mock(return_value=httpx.Response(204))
        taken = await publisher.publish(events)
    await publisher.close()
    assert set(taken) == {e.id for e in events}

    requests = [
        [(e["event"]["userid"], e["event"]["sequence"]) for e in json.loads(c.request.content)]
        for c in mock.calls
    ]
    assert all(len({user for user, _ in r}) == len(r) for r in requests)
    for user in (alice, bob):
        seqs = [seq for r in requests for who, seq in r if who == str(user)]
        assert seqs == sorted(seqs) == [1, 2, 3][: len(seqs)]
    assert (tasks.call_count, reminders.call_count) == (3, 1)


async def test_a_publish_that_times_out_says_so_with_its_topic_and_count(
    rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    alice = uuid4()
    publisher = DaprPublisher(rt.settings.with_changes(dapr_http_port=3500))
    with respx.mock() as mock, caplog.at_level(logging.WARNING, logger="todo.dapr"):
        mock.post(bulk("task.events")).mock(side_effect=httpx.ReadTimeout("slow sidecar"))
        taken = await publisher.publish([event(alice, 1), event(alice, 2)])
    await publisher.close()
    assert taken == []
    (record,) = caplog.records
    assert record.getMessage() == "bulk publish to dapr timed out"
    assert (record.__dict__["topic"], record.__dict__["events"]) == ("task.events", 1)
