"""Taking an event delivered over HTTP: parse it, hand it to the consumers, acknowledge.

The answer follows Dapr's subscriber contract: 200 with status SUCCESS for an event taken
(processed, a repeat, or dead-lettered because it can never succeed), and a 5xx problem
when it should come again (the database is down).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import Response

from todo.consumers import Consumer, consume, dead_letter
from todo.incoming import IncomingEvent, MalformedEvent, parse_event
from todo.runtime import runtime
from todo.web import Call, acknowledge, read_body

DEAD_LETTER_REASON = "delivery retries exhausted"


async def read_event(call: Call, topic: str) -> IncomingEvent | None:
    """The event in the request, or None once a malformed body is dead-lettered."""
    raw = await read_body(call.request, runtime().settings.max_body_bytes)
    try:
        return parse_event(call.request.headers, raw)
    except MalformedEvent as exc:
        await dead_letter(None, topic, str(exc), raw=raw)
        return None


async def receive(call: Call, consumers: Sequence[Consumer], topic: str) -> Response:
    event = await read_event(call, topic)
    if event is not None:
        await consume(consumers, event, event.topic or topic)
    return acknowledge()


async def receive_dead_letter(call: Call) -> Response:
    """Store an event from a dead-letter topic. Dapr forwards the event as it was published,
    so it names its own topic and not the subscriber that gave up, nor why."""
    event = await read_event(call, "unknown.dlq")
    if event is not None:
        await dead_letter(event, event.topic or "unknown.dlq", DEAD_LETTER_REASON)
    return acknowledge()
