"""Taking events delivered over HTTP: parse them, hand them to the consumers, acknowledge.

An event comes alone (Dapr's plain delivery, a KafkaSource) or as one entry of a bulk
delivery (Dapr's bulk subscribe: `{"type": "com.dapr.event.sent.bulk", "entries": [...]}`,
one request for up to `maxMessagesCount` events, which spares the sidecar and the function
a request per event). The answer follows Dapr's subscriber contract: 200 with status
SUCCESS for what was taken (processed, a repeat, or dead-lettered because it can never
succeed; for a bulk, one status per entry), and a 5xx problem when it should all come
again (the database is down): consumers are idempotent, so entries processed before the
failure are skipped the next time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cloudevents.http import from_dict
from starlette.responses import Response

from todo.consumers import Consumer, consume, dead_letter
from todo.errors import BodyTooLarge, MalformedBody
from todo.incoming import STRUCTURED, IncomingEvent, MalformedEvent, parse_event, read_cloudevent
from todo.runtime import runtime
from todo.web import Call, acknowledge, json_response, read_body

DEAD_LETTER_REASON = "delivery retries exhausted"
BULK_EVENT_TYPE = "com.dapr.event.sent.bulk"
# The most entries a bulk delivery may hold (dapr/subscriptions.yaml's maxMessagesCount
# stays within it): its body may be this many events long.
BULK_MAX_MESSAGES = 50


@dataclass(frozen=True)
class Delivered:
    """The events of one request, in order; None where an entry was not an event (it has
    been dead-lettered)."""

    events: list[IncomingEvent | None]
    entry_ids: list[str] | None  # a bulk delivery's entries; None for a single event

    def answer(self) -> Response:
        if self.entry_ids is None:
            return acknowledge()
        statuses = [{"entryId": entry, "status": "SUCCESS"} for entry in self.entry_ids]
        return json_response({"statuses": statuses})


async def read_events(call: Call, topic: str) -> Delivered:
    """The events in the request; one that is malformed is dead-lettered and left out."""
    limit = runtime().settings.max_body_bytes
    raw = await read_body(call.request, limit * BULK_MAX_MESSAGES)
    bulk = _bulk_entries(call, raw)
    if bulk is None:
        if len(raw) > limit:
            raise BodyTooLarge(f"the body is {len(raw)} bytes; the limit is {limit}")
        return Delivered([await _single(call, raw, topic)], None)
    events = [await _entry_event(entry, topic) for entry in bulk]
    return Delivered(events, [str(entry["entryId"]) for entry in bulk])


async def _single(call: Call, raw: bytes, topic: str) -> IncomingEvent | None:
    try:
        return parse_event(call.request.headers, raw)
    except MalformedEvent as exc:
        await dead_letter(None, topic, str(exc), raw=raw)
        return None


def _bulk_entries(call: Call, raw: bytes) -> list[dict[str, Any]] | None:
    """A bulk delivery's entries, or None for a request holding a single event."""
    media_type = call.request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" or b'"entries"' not in raw:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("type") != BULK_EVENT_TYPE:
        return None
    entries = body.get("entries")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("entryId"), str) for e in entries
    ):
        raise MalformedBody("a bulk delivery's entries must each have an entryId")
    return entries


async def _entry_event(entry: dict[str, Any], topic: str) -> IncomingEvent | None:
    try:
        if entry.get("contentType") != STRUCTURED or not isinstance(entry.get("event"), dict):
            raise MalformedEvent("not a CloudEvent: the entry holds no structured event")
        event = read_cloudevent(lambda: from_dict(entry["event"]))
    except MalformedEvent as exc:
        await dead_letter(None, topic, str(exc), raw=json.dumps(entry).encode())
        return None
    return IncomingEvent(dict(event.get_attributes()), event.get_data())


async def receive(call: Call, consumers: Sequence[Consumer], topic: str) -> Response:
    delivered = await read_events(call, topic)
    events = [event for event in delivered.events if event is not None]
    # One delivery comes from one subscription, so from one topic.
    await consume(consumers, events, (events[0].topic or topic) if events else topic)
    return delivered.answer()


async def receive_dead_letter(call: Call) -> Response:
    """Store an event from a dead-letter topic. Dapr forwards the event as it was published,
    so it names its own topic and not the subscriber that gave up, nor why."""
    delivered = await read_events(call, "unknown.dlq")
    for event in delivered.events:
        if event is not None:
            await dead_letter(event, event.topic or "unknown.dlq", DEAD_LETTER_REASON)
    return delivered.answer()
