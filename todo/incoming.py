"""Events arriving over HTTP, in every form they come in.

Dapr pushes structured CloudEvents (our event with `topic`, `pubsubname` and trace
attributes added); other senders use binary mode (ce-* headers); a Knative KafkaSource
wraps the Kafka record, which holds the event Dapr wrote, as the data of a
`dev.knative.kafka.event`. All of them become one `IncomingEvent`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from cloudevents.exceptions import GenericException
from cloudevents.http import from_dict, from_http
from cloudevents.http.event import CloudEvent

KAFKA_WRAPPER = "dev.knative.kafka.event"


class MalformedEvent(Exception):
    """The body is not a CloudEvent we can read; retrying cannot help."""


@dataclass(frozen=True)
class IncomingEvent:
    attributes: dict[str, Any]
    data: Any

    @property
    def id(self) -> str:
        return str(self.attributes["id"])

    @property
    def type(self) -> str:
        return str(self.attributes["type"])

    @property
    def source(self) -> str:
        return str(self.attributes["source"])

    @property
    def subject(self) -> str | None:
        subject = self.attributes.get("subject")
        return None if subject is None else str(subject)

    @property
    def topic(self) -> str | None:
        topic = self.attributes.get("topic")
        return None if topic is None else str(topic)

    @property
    def user_id(self) -> UUID | None:
        try:
            return UUID(str(self.attributes["userid"]))
        except (KeyError, ValueError):
            return None

    def to_cloudevent(self) -> dict[str, Any]:
        """The structured form, as stored with a dead letter and sent again on replay."""
        return {**self.attributes, "data": self.data}


STRUCTURED = "application/cloudevents+json"


def parse_event(headers: Mapping[str, str], body: bytes) -> IncomingEvent:
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == STRUCTURED:
        # How Dapr pushes: a quarter of from_http's cost for the same checks.
        event = read_cloudevent(lambda: from_dict(_json_object(body)))
    else:
        event = read_cloudevent(lambda: from_http(dict(headers), body))
    if event["type"] == KAFKA_WRAPPER:
        event = _unwrap_kafka(event)
    return IncomingEvent(dict(event.get_attributes()), event.get_data())


def read_cloudevent(parse: Callable[[], CloudEvent]) -> CloudEvent:
    """`parse()`'s event, or MalformedEvent. The SDK raises TypeError and ValueError for some
    malformed input (a specversion that is an object, a body that is not UTF-8) and takes
    attributes that are not text (an id that is a list): every one is refused here."""
    try:
        event = parse()
    except (GenericException, TypeError, ValueError, AttributeError, KeyError) as exc:
        raise MalformedEvent(f"not a CloudEvent: {exc}") from None
    for name in ("id", "source", "type"):
        if not isinstance(event[name], str) or not event[name]:
            raise MalformedEvent(f"not a CloudEvent: {name} must be a non-empty string")
    return event


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        raise MalformedEvent("not a CloudEvent: the body is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedEvent("not a CloudEvent: the body is not a JSON object")
    return value


def _unwrap_kafka(wrapper: CloudEvent) -> CloudEvent:
    data = wrapper.get_data()
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError:
            raise MalformedEvent("the Kafka record is not JSON") from None
    if not isinstance(data, dict) or "specversion" not in data:
        raise MalformedEvent("the Kafka record does not hold a CloudEvent")
    return read_cloudevent(lambda: from_dict(data))
