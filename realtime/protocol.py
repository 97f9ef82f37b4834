"""What travels over the websocket, both ways, and the close codes.

Server to client:
    {"type": "task.created", "seq": 12, "id": "...", "time": "...", "data": {...}}
        one event of the user's change feed ("todo." dropped from the CloudEvent type)
    {"type": "sync", "events": [...], "seq": 40, "more": false}
        a catch-up batch; `more: false` marks the point where live events take over
    {"type": "ping"} / {"type": "pong"}
    {"type": "error", "detail": "..."}

Client to server:
    {"type": "auth", "token": "..."}    first message, unless the token came as the
                                        subprotocol ("bearer, <token>")
    {"type": "resume", "since": 12}     replay everything after 12, then go live
    {"type": "ping"} / {"type": "pong"}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from todo.events import Event
from todo.models import MAX_SEQUENCE

CLOSE_UNAUTHENTICATED = 4401  # no token, a bad one, or one that expired
CLOSE_FORBIDDEN = 4403  # the token is fine but not for the user in the path
CLOSE_TRY_AGAIN_LATER = 1013  # the client fell too far behind; resume from its last seq
CLOSE_GOING_AWAY = 1001  # no answer to heartbeats
CLOSE_PROTOCOL = 1008  # a message that breaks the protocol


def event_payload(event: Event) -> dict[str, Any]:
    return {
        "type": event.type.removeprefix("todo."),
        "seq": event.seq,
        "id": str(event.id),
        "time": event.time.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }


def from_cloudevent(cloudevent: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": str(cloudevent["type"]).removeprefix("todo."),
        "seq": sequence_number(int(str(cloudevent["sequence"]))),
        "id": str(cloudevent["id"]),
        "time": cloudevent.get("time"),
        "data": cloudevent.get("data"),
    }


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), default=str)


def sync_message(events: Sequence[Event], seq: int, more: bool) -> str:
    return encode(
        {"type": "sync", "events": [event_payload(e) for e in events], "seq": seq, "more": more}
    )


@dataclass(frozen=True)
class ClientMessage:
    type: str
    token: str | None = None
    since: int | None = None


class ProtocolError(ValueError):
    pass


def sequence_number(value: object) -> int:
    """A client's `since`: a sequence number, as the change feed counts them."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEQUENCE:
        raise ProtocolError(f"since must be a sequence number from 0 to {MAX_SEQUENCE}")
    return value


def parse_client_message(text: str) -> ClientMessage:
    try:
        message = json.loads(text)
    except ValueError:
        raise ProtocolError("messages are JSON objects") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError('messages are JSON objects with a "type"')
    kind = message["type"]
    if kind == "auth":
        token = message.get("token")
        if not isinstance(token, str) or not token:
            raise ProtocolError("auth needs a token")
        return ClientMessage(kind, token=token)
    if kind == "resume":
        return ClientMessage(kind, since=sequence_number(message.get("since")))
    if kind in ("ping", "pong"):
        return ClientMessage(kind)
    raise ProtocolError(f"unknown message type {kind!r}")
