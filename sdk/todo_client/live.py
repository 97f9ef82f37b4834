"""The account's changes as they happen, over realtime's websocket (docs/realtime.md).

The server replays everything after `since`, then pushes; each event carries the account's
sequence number. The subscription keeps the last one it yielded, so after any disconnect
it reconnects with `?since=<last>` and yields each change once, in order, with no gap.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from todo_client.models import Change
from todo_client.retry import Retry

CLOSE_UNAUTHENTICATED = 4401  # the token expired (or is bad): refresh, then reconnect
# Reconnecting cannot help: the token lacks tasks:read, or `since` was refused.
FINAL_CLOSES = frozenset({4403, 1008})
PONG = json.dumps({"type": "pong"})


class LiveClosed(Exception):
    """The server ended the subscription for good (the close code says why)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"websocket closed {code}: {reason}")
        self.code = code
        self.reason = reason


class LiveChanges:
    """`async for change in client.live(since=n)`: changes after n, then live ones.

    Without `since`, it starts from now. `connections` counts the sockets opened, which is
    one unless the connection was lost; `state` is "connecting" until the first socket is
    open, "live" while one is, and "reconnecting" between a lost one and the next. The
    heartbeat is answered while the caller waits for the next change; one that stops
    iterating for longer than the server's heartbeat timeout is disconnected, and resumes
    when it iterates again.
    """

    def __init__(
        self,
        url: str,
        token: Callable[[], Awaitable[str]],
        refresh: Callable[[], Awaitable[None]],
        since: int | None,
        retry: Retry,
    ) -> None:
        self._url = url
        self._token = token
        self._refresh = refresh
        self.last_seq = since
        self._retry = retry
        self.connections = 0
        self.state = "connecting"

    def __aiter__(self) -> AsyncIterator[Change]:
        return self._changes()

    async def _changes(self) -> AsyncIterator[Change]:
        failures = 0
        while True:
            try:
                async with await self._connect() as socket:
                    failures = 0
                    self.state = "live"
                    async for change in self._receive(socket):
                        yield change
                    closed = socket.close_code, socket.close_reason
            except ConnectionClosed as lost:
                closed = (lost.rcvd.code, lost.rcvd.reason) if lost.rcvd else (None, "")
            except (OSError, InvalidHandshake, TimeoutError):
                closed = None, ""
            code, reason = closed
            self.state = "reconnecting"
            if code in FINAL_CLOSES:
                raise LiveClosed(code, reason or "")
            if code == CLOSE_UNAUTHENTICATED:
                await self._refresh()
                continue
            failures += 1
            await asyncio.sleep(self._retry.delay(min(failures, self._retry.attempts), None))

    async def _connect(self) -> ClientConnection:
        query = "" if self.last_seq is None else f"?since={self.last_seq}"
        token = await self._token()
        self.connections += 1
        return await connect(
            f"{self._url}{query}",
            subprotocols=[Subprotocol("bearer"), Subprotocol(token)],
            compression=None,
        )

    async def _receive(self, socket: ClientConnection) -> AsyncIterator[Change]:
        async for raw in socket:
            message: dict[str, Any] = json.loads(raw)
            kind = message.get("type")
            if kind == "ping":
                await socket.send(PONG)
            elif kind == "sync":
                for event in message["events"]:
                    if (change := self._new(event)) is not None:
                        yield change
                # Without `since`, the first batch is empty and says where "now" is.
                if self.last_seq is None or message["seq"] > self.last_seq:
                    self.last_seq = message["seq"]
            elif kind not in ("pong", "error") and (change := self._new(message)) is not None:
                yield change

    def _new(self, event: dict[str, Any]) -> Change | None:
        """The change, unless it was yielded already (around a replay's switch to live)."""
        change = Change.from_message(event)
        if self.last_seq is not None and change.seq <= self.last_seq:
            return None
        self.last_seq = change.seq
        return change
