"""Prometheus metrics every function exports at /metrics.

prometheus_client takes tens of milliseconds to import, so the instruments are made on
first use, and the functions record after their response has gone out: a cold start's
first answer does not wait for them.

A labelled counter exists from its first increment on, and Prometheus' increase() cannot
see that first step from nothing to 1: the first dead letter of a topic would never alert.
So every scrape lists the counters the alerts watch (knative/monitoring/prometheusrule.yaml)
at 0 for each topic, and for each consumer this process runs, before they count anything.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from todo.event_types import TaskCompleted, TaskCreated, TaskDeleted
from todo.events import TOPICS, Event, dead_letter_topic

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram


class Instruments(NamedTuple):
    http_requests: Counter
    http_request_duration: Histogram
    tasks_created: Counter
    tasks_completed: Counter
    tasks_deleted: Counter
    events_published: Counter
    events_publish_failures: Counter
    events_processed: Counter
    dead_letters: Counter
    outbox_backlog: Gauge
    outbox_oldest_unpublished: Gauge
    reminders_delivered: Counter
    tick_last_success: Gauge
    ws_connections: Gauge
    ws_messages_sent: Counter
    ws_replays: Counter
    ws_drops: Counter
    ws_delivery_latency: Histogram


@functools.cache
def instruments() -> Instruments:
    from prometheus_client import Counter, Gauge, Histogram

    made = Instruments(
        http_requests=Counter(
            "todo_http_requests",
            "HTTP requests answered, by function, route template, method and status.",
            ["function", "route", "method", "status"],
        ),
        http_request_duration=Histogram(
            "todo_http_request_duration_seconds",
            "Time to answer an HTTP request, by function, route template and method.",
            ["function", "route", "method"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        ),
        tasks_created=Counter("todo_tasks_created", "Tasks created."),
        tasks_completed=Counter("todo_tasks_completed", "Tasks completed."),
        tasks_deleted=Counter("todo_tasks_deleted", "Tasks deleted."),
        events_published=Counter(
            "todo_events_published", "Events handed to the bus and accepted.", ["topic"]
        ),
        events_publish_failures=Counter(
            "todo_events_publish_failures",
            "Events the bus did not take; they stay in the outbox for the relay.",
            ["topic"],
        ),
        events_processed=Counter(
            "todo_events_processed",
            "Events handed to a consumer, by consumer and outcome (processed, duplicate, "
            "dead_lettered, ignored: a type it does not take, failed: to be retried).",
            ["consumer", "outcome"],
        ),
        dead_letters=Counter(
            "todo_dead_letters", "Events stored as dead letters, by topic.", ["topic"]
        ),
        outbox_backlog=Gauge(
            "todo_outbox_backlog", "Events in the outbox not yet published (set by the tick)."
        ),
        outbox_oldest_unpublished=Gauge(
            "todo_outbox_oldest_unpublished_seconds",
            "Age of the oldest unpublished event (set by the tick); 0 when none.",
        ),
        reminders_delivered=Counter("todo_reminders_delivered", "Reminders that came due."),
        tick_last_success=Gauge(
            "todo_tick_last_success_timestamp_seconds", "Unix time of the last completed tick."
        ),
        ws_connections=Gauge("todo_ws_connections", "Authenticated websocket connections open."),
        ws_messages_sent=Counter("todo_ws_messages_sent", "Messages sent to websocket clients."),
        ws_replays=Counter("todo_ws_replays", "Catch-ups from the change feed (resumes, gaps)."),
        ws_drops=Counter(
            "todo_ws_drops",
            "Connections closed by the service, by reason (auth, expired, slow, heartbeat).",
            ["reason"],
        ),
        ws_delivery_latency=Histogram(
            "todo_ws_delivery_latency_seconds",
            "From an event's time to its push to a client.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        ),
    )
    for topic in TOPICS.values():
        made.events_published.labels(topic)
        made.dead_letters.labels(topic)
        made.dead_letters.labels(dead_letter_topic(topic))
    return made


# What a consumer does with an event it was handed, failures aside.
HANDLED_OUTCOMES = ("processed", "duplicate", "dead_lettered", "ignored")
_consumers: set[str] = set()


def expect_consumer(name: str) -> None:
    """List the consumer's handled events at 0 from the next scrape on."""
    _consumers.add(name)


@functools.lru_cache(maxsize=4096)
def labelled(metric: Any, *values: str | int) -> Any:
    """The metric's child for these label values. `labels()` converts, checks and locks on
    every call; every label here (routes, statuses, topics, consumers) has few values."""
    return metric.labels(*values)


def exposition() -> tuple[bytes, str]:
    """The text format Prometheus scrapes, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    m = instruments()  # a scrape before the first request still lists every metric
    for consumer in _consumers:
        for outcome in HANDLED_OUTCOMES:
            labelled(m.events_processed, consumer, outcome)
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def count_committed(committed: Iterable[Event]) -> None:
    """Count the domain changes that committed units of work announced."""
    m = instruments()
    counters = {
        TaskCreated.event_type: m.tasks_created,
        TaskCompleted.event_type: m.tasks_completed,
        TaskDeleted.event_type: m.tasks_deleted,
    }
    for event in committed:
        counter = counters.get(event.type)
        if counter is not None:
            counter.inc()
