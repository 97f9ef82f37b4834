"""Prometheus metrics every function exports at /metrics."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Histogram

from todo import events as event_types
from todo.events import Event

http_requests = Counter(
    "todo_http_requests",
    "HTTP requests answered, by function, route template, method and status.",
    ["function", "route", "method", "status"],
)
http_request_duration = Histogram(
    "todo_http_request_duration_seconds",
    "Time to answer an HTTP request, by function, route template and method.",
    ["function", "route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
tasks_created = Counter("todo_tasks_created", "Tasks created.")
tasks_completed = Counter("todo_tasks_completed", "Tasks completed.")
tasks_deleted = Counter("todo_tasks_deleted", "Tasks deleted.")
events_published = Counter(
    "todo_events_published", "Events handed to the publisher and accepted.", ["topic"]
)
events_publish_failures = Counter(
    "todo_events_publish_failures",
    "Publish attempts that failed; the events stay in the outbox for the relay.",
    ["topic"],
)

_COUNTED = {
    event_types.TASK_CREATED: tasks_created,
    event_types.TASK_COMPLETED: tasks_completed,
    event_types.TASK_DELETED: tasks_deleted,
}


def count_committed(committed: Iterable[Event]) -> None:
    """Count the domain changes a committed unit of work announced."""
    for event in committed:
        counter = _COUNTED.get(event.type)
        if counter is not None:
            counter.inc()
