"""Our CloudEvents: the topics they travel on, and their JSON form.

The event types and their payloads are the catalogue in `todo.event_types`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

SPEC_VERSION = "1.0"

# `todo.<entity>.<verb>` travels on `<entity>.events`.
TOPICS = {
    "task": "task.events",
    "reminder": "reminder.events",
    "recurrence": "recurrence.events",
    "notification": "notification.events",
}


def topic_of(event_type: str) -> str:
    entity = event_type.split(".")[1]
    return TOPICS[entity]


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


class Event(NamedTuple):
    id: UUID
    user_id: UUID
    seq: int
    type: str
    source: str
    subject: str
    topic: str
    data: dict[str, Any]
    time: datetime

    def to_cloudevent(self) -> dict[str, Any]:
        """The structured-mode CloudEvent, as published and as the change feed shows it."""
        return {
            "specversion": SPEC_VERSION,
            "id": str(self.id),
            "type": self.type,
            "source": self.source,
            "subject": self.subject,
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "userid": str(self.user_id),
            "sequence": self.seq,
            "data": self.data,
        }
