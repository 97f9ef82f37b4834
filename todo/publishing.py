"""After commit: handing committed events to the message bus from background lanes, each
user's events in sequence order.

A change commits its events to the outbox; `AfterCommit` then publishes them in the
background, so a request never waits on the bus: a slow or failing sidecar cannot delay or
fail it. A publisher returns the ids it has durably taken and only those are marked
published. Whatever is not taken, or still unsent when the process stops, stays in the
outbox and the relay sends it: a failure delays an event, never loses it.

Order by construction. Each change takes a place in its user's line: a transaction once
the outbox has numbered its events (it holds the user's counter row from then until
commit), a single statement that appends its own events (`hold`) before it is sent. A
place becomes ready when its change has committed, and leaves the line on rollback. A
change that committed before another took its place was numbered before it (the other
bumped the counter after that commit, or, holding the row already, before the committed
one could). So a ready change goes out once every change still pending took its place
after it committed, together with the other such ready ones, in sequence order, stopping
at the first ready one (by sequence) that may not go yet. Each user's events go out by
the one lane the user hashes to, one batch after another. Lanes run side by side
(`PUBLISH_CONCURRENCY`), so the publisher keeps up with the function's own write rate.

The relay. Past the hand-over age (half of RELAY_AFTER_SECONDS) an event is the relay's
and the lanes leave it alone, so the two paths never both send it. A process that left
events in the outbox (handed over, or not taken by the sidecar) runs the relay itself once
they reach the relay's age, and again with backoff while the bus refuses them: under a
burst the bus could not keep up with, or a sidecar's restart, events arrive seconds late,
and the tick, which relays only when it looks at the database anyway, is not waited for.
A user whose earlier event is in the relay's hands (left here after a slow moment, or
failed or left by a crashed process and now past that age) has their later events left to
the relay too, which sends each user's in sequence order: no newer event overtakes them. What is not
guaranteed: across processes (two functions writing for the same user at once) and in the
first seconds after a crash (until the dead process's events pass the hand-over age, plus
up to a second before a lane reads that), a newer event can arrive before an older one.
Consumers tolerate it: they are idempotent per event id, and realtime's sequence gate
skips repeats and fills gaps from the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import signal
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from todo import metrics, outbox
from todo.clock import Clock
from todo.db import Database
from todo.events import Event
from todo.relay import Relayed, relay_outbox

log = logging.getLogger(__name__)

BATCH = 100
MAX_UNSENT = 10_000
# Marks wait this long for more to join them: one UPDATE for every event the lanes sent
# meanwhile, not one per batch. At 200 creates/s a batch is mostly one event, and its own
# UPDATE cost create-task a pooled connection and a round trip and Postgres a commit.
# Nothing waits on a mark but the relay, which leaves events alone for seconds.
MARK_EVERY_SECONDS = 0.05
# A relay this process runs for what it left (see `_relay_left`) tries again while the
# process lives, waiting twice as long after each failure (a run in which the bus took
# nothing), up to MAX_RELAY_WAIT: an idle tick looks at the outbox only every few hours
# (todo/next_due.py), so giving up would leave the events that long. Every RELAY_ATTEMPTS
# failures in a row, it warns.
RELAY_ATTEMPTS = 6
MAX_RELAY_WAIT = timedelta(minutes=5)


class Publisher(Protocol):
    # Whether this process relays, through this publisher, what it left in the outbox
    # (handed over, or not taken): True for the sidecar, which may take it on a later try.
    # False where there is no bus, and for todo dev's bus, which marks events published
    # itself once delivered (an event not taken is on its way): there the tick relays.
    relays_untaken: bool

    async def publish(self, events: Sequence[Event]) -> Sequence[UUID]:
        """Send `events`, each user's in the order given and none after one of theirs that
        failed; return the ids the bus took."""
        ...

    async def close(self) -> None: ...


class OutboxOnly:
    """No bus reachable from here: events wait in the outbox for the relay."""

    relays_untaken = False

    async def publish(self, events: Sequence[Event]) -> Sequence[UUID]:
        return []

    async def close(self) -> None:
        return None


class _Slot:
    """One change's events for one user, in line from its place taken until sent or dropped.

    `placed` and `committed` are moments on the owner's counter: when the change took its
    place, and when it committed (None until then)."""

    __slots__ = ("committed", "events", "placed")

    def __init__(self, placed: int, events: list[Event]) -> None:
        self.placed = placed
        self.events = events
        self.committed: int | None = None

    @property
    def ready(self) -> bool:
        return self.committed is not None


class Reservation:
    """A change's place in line: `hold` before a single statement that appends the user's
    events is sent, or `add` as a transaction's outbox append numbers them; then `add` the
    statement's events, and `commit` or `discard` once it has ended."""

    def __init__(self, owner: AfterCommit) -> None:
        self._owner = owner
        self._slots: list[tuple[UUID, _Slot]] = []

    def hold(self, user_id: UUID) -> None:
        slot = _Slot(self._owner._moment(), [])
        self._owner._hold(user_id, slot)
        self._slots.append((user_id, slot))

    def add(self, events: Sequence[Event]) -> None:
        by_user: dict[UUID, list[Event]] = {}
        for event in events:
            by_user.setdefault(event.user_id, []).append(event)
        held = {user_id: slot for user_id, slot in self._slots if not slot.events}
        for user_id, mine in by_user.items():
            slot = held.get(user_id)
            if slot is None:
                slot = _Slot(self._owner._moment(), [])
                self._owner._hold(user_id, slot)
                self._slots.append((user_id, slot))
            slot.events = mine

    def commit(self) -> None:
        self._owner._release(self._slots)
        self._slots = []

    def discard(self) -> None:
        self._owner._drop(self._slots)
        self._slots = []


class _Lane:
    def __init__(self) -> None:
        self.users: dict[UUID, None] = {}  # users whose line may have a ready head, in order
        self.wakeup = asyncio.Event()
        self.worker: asyncio.Task[None] | None = None


class AfterCommit:
    """Per process: the line of reserved events per user, and the lanes that publish them."""

    def __init__(
        self,
        publisher: Publisher,
        database: Database,
        clock: Clock,
        *,
        lanes: int = 2,
        hand_over_after: timedelta = timedelta(seconds=5),
        grace_seconds: float = 5.0,
    ) -> None:
        self.publisher = publisher
        self._database = database
        self._clock = clock
        self._lane_count = max(lanes, 1)
        # Past this age an event belongs to the relay (which takes events older than
        # RELAY_AFTER_SECONDS, twice this): the two paths never both send one event, as
        # long as a send and its mark take less than the margin between them.
        self._hand_over_after = hand_over_after
        self._grace = grace_seconds
        self._lines: dict[UUID, list[_Slot]] = {}  # per user, in the order places were taken
        self._moments = itertools.count()
        self._handed: dict[UUID, int] = {}  # per user, the last sequence left to the relay
        self._hand_over_at: dict[UUID, float] = {}  # per event id, on the monotonic clock
        self._relays_oldest_cache: dict[UUID, int] = {}
        self._relays_oldest_read = -math.inf
        self._lanes: list[_Lane] = []
        self._unsent = 0  # committed events not yet published, failed or handed over
        self._marker: asyncio.Task[None] | None = None
        self._to_mark: list[UUID] = []  # sent, not marked yet
        self._to_count = 0  # events handled by the batches behind `_to_mark`
        self._mark_now: asyncio.Event | None = None  # set: stop lingering (drain, close)
        self._settled: asyncio.Event | None = None
        self._relay: asyncio.Task[None] | None = None
        self._relay_again = False

    def reservation(self) -> Reservation:
        return Reservation(self)

    async def drain(self) -> None:
        """Wait until every committed event so far has been handled."""
        if self._settled is None or self._mark_now is None:
            return  # nothing was ever committed here
        self._mark_now.set()
        try:
            while self._unsent:
                await self._settled.wait()
        finally:
            self._mark_now.clear()

    @property
    def idle(self) -> bool:
        return self._unsent == 0

    async def close(self) -> None:
        """Stop the lanes; each publishes what it holds first (see `_run`). What was handed
        over and not relayed yet is left to the tick's relay."""
        if self._relay is not None:
            self._relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay
        for lane in self._lanes:
            if lane.worker is not None:
                lane.worker.cancel()
        for lane in self._lanes:
            if lane.worker is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await lane.worker
        if self._marker is not None and self._mark_now is not None:
            self._mark_now.set()
            await asyncio.wait([self._marker], timeout=self._grace)
        self._lanes = []
        await self.publisher.close()

    # The line -------------------------------------------------------------------------

    def _moment(self) -> int:
        return next(self._moments)

    def _hold(self, user_id: UUID, slot: _Slot) -> None:
        self._lines.setdefault(user_id, []).append(slot)

    def _release(self, slots: list[tuple[UUID, _Slot]]) -> None:
        committed = self._moment()
        for user_id, slot in slots:
            if not slot.events:  # a held statement that appended nothing
                self._forget(user_id, slot)
                self._wake(user_id)
                continue
            if self._unsent >= MAX_UNSENT:
                # The bus is far behind; the relay will pick these up from the outbox.
                self._forget(user_id, slot)
                metrics.count_committed(slot.events)
                for event in slot.events:
                    metrics.labelled(
                        metrics.instruments().events_publish_failures, event.topic
                    ).inc()
                continue
            slot.committed = committed
            self._unsent += len(slot.events)
            # When the event reaches the hand-over age: its age at commit by the clock
            # (the one the relay compares with), then the time it waits here. Waiting is
            # measured on the monotonic clock, so a test's manual clock moving on while
            # an event waits a few milliseconds does not hand it over.
            now = time.monotonic()
            for event in slot.events:
                age = (self._clock.now() - event.time).total_seconds()
                self._hand_over_at[event.id] = now + self._hand_over_after.total_seconds() - age
            self._wake(user_id)

    def _drop(self, slots: list[tuple[UUID, _Slot]]) -> None:
        for user_id, slot in slots:
            self._forget(user_id, slot)
            self._wake(user_id)  # a ready slot behind this one may now be at the head

    def _forget(self, user_id: UUID, slot: _Slot) -> None:
        line = self._lines.get(user_id)
        if line is None:
            return
        with contextlib.suppress(ValueError):
            line.remove(slot)
        if not line:
            del self._lines[user_id]

    def _wake(self, user_id: UUID) -> None:
        if user_id not in self._lines:
            return
        lane = self._lane_of(user_id)
        lane.users[user_id] = None
        lane.wakeup.set()

    def _lane_of(self, user_id: UUID) -> _Lane:
        if not self._lanes:
            self._lanes = [_Lane() for _ in range(self._lane_count)]
            self._settled = asyncio.Event()
            self._mark_now = asyncio.Event()
            self._drain_before_stopping()
        lane = self._lanes[user_id.int % self._lane_count]
        if lane.worker is None or lane.worker.done():
            lane.worker = asyncio.create_task(self._run(lane), name="publish-after-commit")
        return lane

    def _take(self, lane: _Lane) -> list[Event]:
        """Up to BATCH events from the lane's users' lines, each user's that may go (see the
        module's docstring) in sequence order."""
        batch: list[Event] = []
        for user_id in list(lane.users):
            line = self._lines.get(user_id, [])
            pending = [slot.placed for slot in line if not slot.ready]
            first_pending = min(pending, default=math.inf)
            ready = sorted((slot for slot in line if slot.ready), key=lambda s: s.events[0].seq)
            full = False
            for slot in ready:
                assert slot.committed is not None
                if slot.committed > first_pending:
                    break  # until the pending change ends, which wakes the lane again
                if len(batch) >= BATCH:
                    full = True
                    break
                batch += slot.events
                line.remove(slot)
            if not line:
                self._lines.pop(user_id, None)
            if full:
                break
            del lane.users[user_id]
        return batch

    # Stopping ---------------------------------------------------------------------------

    def _drain_before_stopping(self) -> None:
        """Publish what is held before the server begins to stop on SIGTERM.

        Knative stops a pod with SIGTERM. Under `functions-framework --asgi` uvicorn's
        handler takes it: uvicorn finishes the requests in flight, then raises SIGTERM
        again with the default handler restored, so the process dies there and never
        reaches asyncio.run's cancelling of leftover tasks (and the Starlette app
        functions-framework builds has no lifespan hook to use). So when a server has a
        SIGTERM handler, it is wrapped: the signal first drains the lanes (for at most the
        grace period, below Knative's termination grace), then goes to the server. Events
        of requests that commit during the server's own stop still go out if the lanes are
        quick; anything left is the relay's. Without a server's handler (scripts, tests)
        nothing is installed.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        server_stop = signal.getsignal(signal.SIGTERM)
        if not callable(server_stop):
            return
        loop = asyncio.get_running_loop()

        async def drain_then_stop(signum: int, frame: Any) -> None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._grace):
                    await self.drain()
            server_stop(signum, frame)

        def on_sigterm(signum: int, frame: Any) -> None:
            loop.call_soon_threadsafe(lambda: loop.create_task(drain_then_stop(signum, frame)))

        signal.signal(signal.SIGTERM, on_sigterm)

    # The lanes ------------------------------------------------------------------------

    async def _run(self, lane: _Lane) -> None:
        """Publish the lane's batches one after another, so a user's go out in order.

        Cancelled (`close()`, or asyncio.run cancelling what is left), the lane publishes
        what it holds within the grace period, starting with the batch the cancellation
        interrupted: the sidecar may have taken that one already, and consumers drop the
        repeat.
        """
        batch: list[Event] = []
        try:
            while True:
                await lane.wakeup.wait()
                lane.wakeup.clear()
                while batch := batch or self._take(lane):
                    await self._publish(batch)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # the drain's own awaits (httpx, asyncpg) run normally
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._grace):
                    while batch := batch or self._take(lane):
                        await self._publish(batch)
            if batch or lane.users:
                log.warning("stopped before publishing everything; the relay sends the rest")
            raise

    async def _publish(self, batch: list[Event]) -> None:
        """Send a batch, then mark what the bus took and count the batch handled.

        The batch is emptied once the bus has answered, and the marking runs as its own
        task: a cancellation before the answer leaves the batch to be sent again, one
        after it neither sends it twice nor leaves it unmarked.
        """
        count = len(batch)
        metrics.count_committed(batch)
        late = await self._late_users(batch)
        sending = [e for e in batch if e.user_id not in late]
        if late:
            for event in batch:
                if event.user_id in late:
                    self._handed[event.user_id] = event.seq  # a batch holds a user's in order
            log.info(
                "events left to the relay",
                extra={"events": count - len(sending), "users": len(late)},
            )
            if self.publisher.relays_untaken:
                self._relay_soon(self._hand_over_after)
        try:
            taken = set(await self.publisher.publish(sending)) if sending else set()
        except Exception:
            log.exception("publish failed; the relay will retry", extra={"events": count})
            taken = set()
        if len(taken) < len(sending) and self.publisher.relays_untaken:
            self._relay_soon(2 * self._hand_over_after)
        m = metrics.instruments()
        for event in batch:
            counter = m.events_published if event.id in taken else m.events_publish_failures
            metrics.labelled(counter, event.topic).inc()
        batch.clear()
        # Marking waits for a pooled connection, which the requests keep busy: the lane
        # goes on with its next batch meanwhile (the order of marks does not matter).
        self._to_mark += taken
        self._to_count += count
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._mark_sent(), name="mark-published")

    async def _late_users(self, batch: Sequence[Event]) -> set[UUID]:
        """Users whose events in `batch` go to the relay, to keep each user's order.

        An event of theirs is older than the hand-over age (the relay may be sending it
        already), or an earlier event of theirs is in the relay's hands: older than that
        age and unpublished (a crashed process's, a failed one's, one left after a slow
        moment), or the last one this process handed over, not yet sent.
        """
        now = time.monotonic()
        late = {e.user_id for e in batch if self._hand_over_at.pop(e.id, now) < now}
        if isinstance(self.publisher, OutboxOnly):
            return late  # with no bus every event is the relay's: no order to keep here
        cutoff = self._clock.now() - self._hand_over_after
        firsts: dict[UUID, int] = {}
        for event in batch:
            if event.user_id not in late:
                firsts.setdefault(event.user_id, event.seq)
        try:
            relays = await self._relays_oldest(cutoff)
            handed = {u: self._handed[u] for u in firsts if u in self._handed}
            waiting = await outbox.still_unpublished(self._database, handed) if handed else set()
            for user_id in handed.keys() - waiting:
                # The relay has sent what this process left it, and (in order) all before.
                del self._handed[user_id]
                relays.pop(user_id, None)
            late |= waiting
            late |= {u for u, first in firsts.items() if relays.get(u, first) < first}
        except Exception:
            log.exception("could not check for events in the relay's hands")
        return late

    # The relay, for what this process left ---------------------------------------------

    def _relay_soon(self, wait: timedelta) -> None:
        """Relay what this process left in the outbox (handed over, or not taken by the bus)
        once it reaches the relay's age, `wait` from now; one run at a time, going on while
        more is left meanwhile."""
        if self._relay is not None and not self._relay.done():
            self._relay_again = True
            return
        self._relay = asyncio.create_task(self._relay_left(wait), name="relay-left")

    async def _relay_left(self, wait: timedelta) -> None:
        relay_age = 2 * self._hand_over_after
        failures = 0
        while True:
            self._relay_again = False
            await self._clock.sleep(wait.total_seconds())
            relayed = await self._relay_once(relay_age)
            if relayed is not None and relayed.complete and not self._relay_again:
                return
            if relayed is not None and (relayed.complete or relayed.sent):
                # Done, or the bus is taking events, only not all of them yet (a burst it
                # is still working through): go on at the relay's pace, not backing off.
                failures = 0
                wait = relay_age
            else:
                failures += 1
                if failures % RELAY_ATTEMPTS == 0:
                    log.warning(
                        "events still unpublished; relaying again every few minutes",
                        extra={"failures": failures},
                    )
                wait = min(relay_age * 2 ** min(failures, 16), MAX_RELAY_WAIT)

    async def _relay_once(self, relay_age: timedelta) -> Relayed | None:
        """One relay run; None if it failed."""
        try:
            relayed = await relay_outbox(
                self._database, self.publisher, self._clock.now(), older_than=relay_age
            )
        except Exception:
            log.exception("could not relay the events left in the outbox")
            return None
        log.info("relayed the events left in the outbox", extra={"relayed": relayed.sent})
        return relayed

    async def _relays_oldest(self, cutoff: datetime) -> dict[UUID, int]:
        """`outbox.relays_oldest`, read at most once a second: one query per batch would
        cost the lanes a round trip each for what is empty unless something went wrong.
        A straggler is thus seen up to a second late (see the module's docstring)."""
        if time.monotonic() - self._relays_oldest_read >= 1.0:
            self._relays_oldest_read = time.monotonic()
            self._relays_oldest_cache = await outbox.relays_oldest(self._database, cutoff)
        return self._relays_oldest_cache

    async def _mark_sent(self) -> None:
        """Mark what the lanes sent, all that gathered in MARK_EVERY_SECONDS at a time
        (at once when draining, or when a batch's worth is waiting)."""
        assert self._mark_now is not None  # made with the lanes that sent these
        while self._to_count:
            if len(self._to_mark) < BATCH and not self._mark_now.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(MARK_EVERY_SECONDS):
                        await self._mark_now.wait()
            taken, count = self._to_mark, self._to_count
            self._to_mark, self._to_count = [], 0
            await self._mark(taken, count)

    async def _mark(self, taken: list[UUID], count: int) -> None:
        try:
            if taken:
                await outbox.mark_published(self._database, taken, self._clock.now())
        except Exception:
            # The events went out; the relay will send them again and consumers drop repeats.
            log.exception("could not mark events published", extra={"events": len(taken)})
        finally:
            self._unsent -= count
            if self._unsent == 0 and self._settled is not None:
                self._settled.set()
                self._settled.clear()
