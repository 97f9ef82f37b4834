"""The in-process event bus `todo dev` and the tests publish to instead of Dapr.

It delivers each event, in order, to every function subscribed to its topic, as the
CloudEvent Dapr would push. An event counts as taken once every subscriber has it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from todo.events import Event

log = logging.getLogger(__name__)

Deliver = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    name: str
    topic: str
    deliver: Deliver


class LocalBus:
    def __init__(self) -> None:
        self._subscriptions: dict[str, list[Subscription]] = defaultdict(list)

    def subscribe(self, name: str, topic: str, deliver: Deliver) -> None:
        self._subscriptions[topic].append(Subscription(name, topic, deliver))

    async def publish(self, events: Sequence[Event]) -> Sequence[UUID]:
        taken: list[UUID] = []
        for event in events:
            cloudevent = event.to_cloudevent()
            try:
                for subscription in self._subscriptions.get(event.topic, []):
                    await subscription.deliver(cloudevent)
            except Exception:
                log.exception("local delivery failed", extra={"event_id": str(event.id)})
                break
            taken.append(event.id)
        return taken

    async def close(self) -> None:
        return None
