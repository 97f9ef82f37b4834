"""Connections by user, each with a bounded queue and one writer that keeps it in order.

Every message a connection sends goes through its writer, one at a time, which knows the
last sequence number the client has. Replays from the change feed and live events meet there: a live
event at or below that number is a repeat and is skipped; one above the next number
means events were missed, and the writer fetches them from the feed first. So a client
sees each of its events once, in order, whether they came from a replay, a live push,
or both around the seam.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from starlette.websockets import WebSocket

from realtime import protocol
from todo import metrics, outbox
from todo.clock import Clock
from todo.db import Database
from todo.runtime import runtime
from todo.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Live:
    seq: int
    text: str
    time: datetime | None


@dataclass(frozen=True)
class Resume:
    since: int


@dataclass(frozen=True)
class GoLive:
    """Start from the latest sequence number, without a replay."""


Outgoing = Live | Resume | GoLive | str


class Connection:
    """One client socket. Its writer task runs only while it has something to send, so an
    idle connection costs a few small objects and no task."""

    __slots__ = (
        "_clock",
        "_database",
        "_limit",
        "_page",
        "_pending",
        "_writer",
        "closed",
        "expires_at",
        "last_seq",
        "pinged_at",
        "user_id",
        "websocket",
    )

    def __init__(
        self,
        websocket: WebSocket,
        user_id: UUID,
        expires_at: datetime | None,
        settings: Settings,
        database: Database,
        clock: Clock,
    ) -> None:
        self.websocket = websocket
        self.user_id = user_id
        self.expires_at = expires_at
        self.last_seq = 0
        self.pinged_at: datetime | None = None
        self.closed = False
        # A list, not a deque: an empty deque takes 600 bytes, and most sockets sit idle.
        self._pending: list[Outgoing] = []
        self._limit = settings.ws_queue_size
        self._page = settings.ws_replay_page
        self._database = database
        self._clock = clock
        self._writer: asyncio.Task[None] | None = None

    def offer(self, item: Outgoing) -> bool:
        """Queue a message; False when the client is too far behind to take it."""
        if self.closed:
            return True
        if len(self._pending) >= self._limit:
            return False
        self._pending.append(item)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="ws-writer")
        return True

    def heard(self) -> None:
        """The client said something: it is alive."""
        self.pinged_at = None

    def start(self, since: int | None) -> None:
        self.offer(GoLive() if since is None else Resume(since))

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
        with contextlib.suppress(Exception):
            await self.websocket.close(code, reason)

    async def stop(self) -> None:
        """The client left: stop writing."""
        self.closed = True
        writer = self._writer
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _write(self) -> None:
        try:
            await self._drain()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("websocket writer failed", extra={"user_id": str(self.user_id)})
            await self.close(protocol.CLOSE_TRY_AGAIN_LATER, "try again later")
        finally:
            self._writer = None  # an idle connection keeps no finished task around

    async def _drain(self) -> None:
        while self._pending:
            item = self._pending.pop(0)
            if isinstance(item, Live):
                await self._deliver(item)
            elif isinstance(item, Resume):
                await self._replay(item.since)
            elif isinstance(item, GoLive):
                await self._start_live()
            else:
                await self._send(item)

    async def _start_live(self) -> None:
        """No replay asked for: start from the latest sequence number."""
        async with self._database.transaction() as conn:
            head = await conn.fetchval(
                "select last_seq from event_sequences where user_id = $1", self.user_id
            )
        self.last_seq = head or 0
        await self._send(protocol.sync_message([], self.last_seq, more=False))

    async def _replay(self, since: int) -> None:
        """Everything after `since` from the change feed, in pages, up to its end."""
        metrics.instruments().ws_replays.inc()
        self.last_seq = since
        while True:
            async with self._database.transaction() as conn:
                found = await outbox.changes_since(
                    conn, self.user_id, self.last_seq, self._page + 1
                )
            page, more = found[: self._page], len(found) > self._page
            if page:
                self.last_seq = page[-1].seq
            await self._send(protocol.sync_message(page, self.last_seq, more))
            if not more:
                return

    async def _deliver(self, item: Live) -> None:
        if item.seq <= self.last_seq:
            return  # already sent by a replay, or a repeated delivery
        if item.seq > self.last_seq + 1:
            await self._replay(self.last_seq)  # missed some: the feed has them, and this one
            return
        await self._send(item.text)
        self.last_seq = item.seq
        if item.time is not None:
            latency = (self._clock.now() - item.time).total_seconds()
            metrics.instruments().ws_delivery_latency.observe(max(latency, 0.0))

    async def _send(self, text: str) -> None:
        await self.websocket.send_text(text)
        metrics.instruments().ws_messages_sent.inc()


class Hub:
    """Who is connected, fan-out of events to them, heartbeats and token expiry."""

    def __init__(self) -> None:
        self._by_user: dict[UUID, set[Connection]] = defaultdict(set)
        self._expiries: list[tuple[datetime, int, Connection]] = []
        self._order = itertools.count()
        self._timers: asyncio.Task[None] | None = None
        # When the timers next wake, and how a connection that expires sooner wakes them.
        self._wake_at: datetime | None = None
        self._rescheduled: asyncio.Event | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def join(self, connection: Connection) -> None:
        self._by_user[connection.user_id].add(connection)
        if connection.expires_at is not None:
            heapq.heappush(self._expiries, (connection.expires_at, next(self._order), connection))
            if self._wake_at is not None and connection.expires_at < self._wake_at:
                assert self._rescheduled is not None
                self._rescheduled.set()
        metrics.instruments().ws_connections.inc()
        if self._timers is None or self._timers.done():
            self._rescheduled = asyncio.Event()  # of this loop: tests run the hub in several
            self._timers = asyncio.create_task(self._run_timers(), name="ws:timers")

    def leave(self, connection: Connection) -> None:
        users = self._by_user.get(connection.user_id)
        if users is not None and connection in users:
            users.discard(connection)
            if not users:
                del self._by_user[connection.user_id]
            metrics.instruments().ws_connections.dec()

    def publish(self, user_id: UUID, message: dict[str, Any], time: datetime | None) -> None:
        """Queue one event for every connection of its user (encoded once for all)."""
        connections = self._by_user.get(user_id)
        if not connections:
            return
        item = Live(message["seq"], protocol.encode(message), time)
        for connection in list(connections):
            if not connection.offer(item):
                self._drop(connection, protocol.CLOSE_TRY_AGAIN_LATER, "slow", "too far behind")

    def _drop(self, connection: Connection, code: int, reason: str, text: str) -> None:
        if connection.closed:
            return
        metrics.labelled(metrics.instruments().ws_drops, reason).inc()
        task = asyncio.create_task(connection.close(code, text))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Close every socket (1001) and stop the timers; the hub can be used again after."""
        if self._timers is not None:
            self._timers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timers
            self._timers = None
        for connections in list(self._by_user.values()):
            for connection in list(connections):
                await connection.close(protocol.CLOSE_GOING_AWAY, "server shutting down")
        self._expiries.clear()

    async def _run_timers(self) -> None:
        rt = runtime()
        clock = rt.clock
        beat = timedelta(seconds=rt.settings.ws_heartbeat_seconds)
        next_beat = clock.now() + beat
        while self._by_user or self._expiries:
            wake = next_beat
            if self._expiries:
                wake = min(wake, self._expiries[0][0])
            await self._sleep_until(clock, wake)
            now = clock.now()
            self._expire(now)
            if now >= next_beat:
                self._heartbeat(now)
                next_beat = now + beat

    async def _sleep_until(self, clock: Clock, wake: datetime) -> None:
        """Sleep until `wake`, or until a connection that expires before it joins."""
        assert self._rescheduled is not None
        self._wake_at = wake
        self._rescheduled.clear()
        sleeping = asyncio.ensure_future(clock.sleep(max((wake - clock.now()).total_seconds(), 0)))
        rescheduled = asyncio.ensure_future(self._rescheduled.wait())
        try:
            await asyncio.wait({sleeping, rescheduled}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._wake_at = None
            sleeping.cancel()
            rescheduled.cancel()

    def _expire(self, now: datetime) -> None:
        while self._expiries and self._expiries[0][0] <= now:
            _, _, connection = heapq.heappop(self._expiries)
            self._drop(connection, protocol.CLOSE_UNAUTHENTICATED, "expired", "token expired")

    def _heartbeat(self, now: datetime) -> None:
        """Ping the quiet; drop those that stayed silent a whole timeout after a ping."""
        timeout = timedelta(seconds=runtime().settings.ws_heartbeat_timeout_seconds)
        ping = protocol.encode({"type": "ping"})
        for connections in list(self._by_user.values()):
            for connection in list(connections):
                if connection.pinged_at is not None and now - connection.pinged_at >= timeout:
                    self._drop(connection, protocol.CLOSE_GOING_AWAY, "heartbeat", "no heartbeat")
                elif connection.pinged_at is None:
                    connection.pinged_at = now
                    if not connection.offer(ping):
                        self._drop(
                            connection, protocol.CLOSE_TRY_AGAIN_LATER, "slow", "too far behind"
                        )
