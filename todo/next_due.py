"""What the tick knows of the next reminder to come due, so that an idle deployment sends
Postgres nothing: a free Neon compute suspends after five idle minutes, and one query a
minute would keep it running all month.

Each look at the database (a tick's claim) ends by reading the earliest pending
reminder; reminder.scheduled and reminder.updated events tell of each reminder set or
moved since. A fresh process knows nothing and looks. A deleted reminder leaves the known
instant as it was: at worst one look that finds nothing due. And however sure it is, the
tick looks at least every `look_every` (TICK_IDLE_LOOK_SECONDS): for an event it never
received, and for events that a process which stopped abruptly left in the outbox.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pydantic import ValidationError

from todo.incoming import IncomingEvent
from todo.reminder_events import ReminderScheduled, ReminderUpdated

log = logging.getLogger(__name__)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    return a if b is None or a <= b else b


class NextDue:
    def __init__(self, look_every: timedelta) -> None:
        self._look_every = look_every
        self._last_look: datetime | None = None  # None: never looked, so nothing is known
        self._next: datetime | None = None  # the earliest pending reminder known
        self._heard: datetime | None = None  # the earliest heard of during a look

    def hear(self, remind_at: datetime) -> None:
        """A reminder was set or moved to `remind_at`."""
        self._next = _earlier(self._next, remind_at)
        self._heard = _earlier(self._heard, remind_at)

    def should_look(self, now: datetime) -> bool:
        if self._last_look is None or now - self._last_look >= self._look_every:
            return True
        return self._next is not None and self._next <= now

    def looking(self) -> None:
        """A look begins: what is heard from now on may be newer than what it reads."""
        self._heard = None

    def looked(self, now: datetime, earliest_pending: datetime | None) -> None:
        self._last_look = now
        self._next = _earlier(earliest_pending, self._heard)


def heard_reminder(event: IncomingEvent) -> datetime | None:
    """When the reminder an event sets or moves comes due; None for the other reminder
    events, and for one whose data does not validate (logged: the tick's next look at the
    database finds the reminder anyway)."""
    for payload in (ReminderScheduled, ReminderUpdated):
        if event.type == payload.event_type:
            try:
                return payload.model_validate(event.data).reminder.remind_at
            except ValidationError:
                log.warning("reminder event not understood", extra={"event_id": event.id})
                return None
    return None
