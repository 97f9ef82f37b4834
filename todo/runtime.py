"""Wiring: the settings, clock, database and publisher every operation uses.

`runtime()` builds them from the environment on first use, so importing a function costs
nothing. `todo dev` and the tests call `configure()` to wire their own parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from todo.clock import Clock, SystemClock
from todo.confirmed_accounts import ConfirmedAccounts
from todo.db import Database
from todo.next_due import NextDue
from todo.publishing import AfterCommit, OutboxOnly, Publisher
from todo.sender_identity import SenderIdentity
from todo.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    database: Database
    publisher: Publisher
    outgoing: AfterCommit = field(init=False)
    accounts: ConfirmedAccounts = field(init=False)
    next_due: NextDue = field(init=False)
    senders: SenderIdentity = field(init=False)

    def __post_init__(self) -> None:
        self.outgoing = AfterCommit(
            self.publisher,
            self.database,
            self.clock,
            lanes=self.settings.publish_concurrency,
            hand_over_after=timedelta(seconds=self.settings.relay_after_seconds / 2),
        )
        self.accounts = ConfirmedAccounts(
            self.database, self.clock, self.settings.account_check_seconds
        )
        self.next_due = NextDue(timedelta(seconds=self.settings.tick_idle_look_seconds))
        self.senders = SenderIdentity(self.settings)

    async def close(self) -> None:
        await self.outgoing.close()
        await self.database.close()


_current: Runtime | None = None


def _default_publisher(settings: Settings) -> Publisher:
    if settings.dapr_url:
        from todo.dapr import DaprPublisher

        return DaprPublisher(settings)
    return OutboxOnly()


def runtime() -> Runtime:
    global _current
    if _current is None:
        _current = configure(Settings.from_env())
    return _current


def configure(settings: Settings | None = None, **parts: Any) -> Runtime:
    """Replace the runtime. Parts not given are built from `settings` as usual."""
    global _current
    settings = settings or Settings.from_env()
    clock = parts.pop("clock", None) or SystemClock()
    database = parts.pop("database", None) or Database(settings)
    publisher = parts.pop("publisher", None) or _default_publisher(settings)
    if parts:
        raise TypeError(f"unknown runtime parts: {', '.join(parts)}")
    _current = Runtime(settings, clock, database, publisher)
    return _current
