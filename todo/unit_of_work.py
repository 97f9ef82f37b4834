"""One change: a transaction, the events it emits, and their publication after commit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from todo import context, outbox
from todo.db import Connection
from todo.events import Event
from todo.runtime import runtime


@dataclass
class UnitOfWork:
    conn: Connection
    now: datetime
    source: str
    events: list[Event] = field(default_factory=list)

    async def emit(self, user_id: UUID, type: str, subject: str, data: dict[str, Any]) -> Event:
        """Write an event to the outbox in this transaction; it is published after commit."""
        event = await outbox.append_event(
            self.conn,
            user_id=user_id,
            type=type,
            source=self.source,
            subject=subject,
            data=data,
            now=self.now,
        )
        self.events.append(event)
        return event


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[UnitOfWork]:
    rt = runtime()
    async with rt.database.transaction() as conn:
        function = context.function.get() or rt.settings.function_name
        work = UnitOfWork(conn, rt.clock.now(), f"/functions/{function}")
        yield work
    if work.events:
        rt.outgoing.submit(work.events)
