"""What every function answers: health, readiness, metrics, problems, request ids, JSON logs."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from tests.conftest import Account
from todo.events import TOPICS
from todo.logs import JsonFormatter
from todo.metrics import HANDLED_OUTCOMES
from todo.runtime import Runtime


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_metrics_count_requests_by_route_and_tasks_by_change(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post("/api/tasks", json={"title": "counted"}, headers=alice.headers)
    await client.post(f"/api/tasks/{created.json()['id']}/complete", headers=alice.headers)
    await client.get("/api/tasks/not-a-uuid", headers=alice.headers)
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        'todo_http_requests_total{function="create_task",method="POST",route="/api/tasks",status="201"}'
        in text
    )
    assert 'route="/api/tasks/{id}",status="422"' in text  # the template, not the raw path
    assert "not-a-uuid" not in text
    assert "todo_http_request_duration_seconds_bucket" in text
    for counter in (
        "todo_tasks_created_total",
        "todo_tasks_completed_total",
        "todo_tasks_deleted_total",
    ):
        assert counter in text


async def test_a_scrape_lists_the_counters_the_alerts_watch_before_they_count(
    client: httpx.AsyncClient,
) -> None:
    text = (await client.get("/metrics")).text
    for topic in TOPICS.values():
        assert f'todo_events_published_total{{topic="{topic}"}}' in text
        assert f'todo_dead_letters_total{{topic="{topic}"}}' in text
        assert f'todo_dead_letters_total{{topic="{topic}.dlq"}}' in text
    for consumer in ("audit", "recurrence", "notify"):
        for outcome in HANDLED_OUTCOMES:
            series = f'todo_events_processed_total{{consumer="{consumer}",outcome="{outcome}"}}'
            assert series in text


async def test_metrics_move_with_each_change(
    client: httpx.AsyncClient, alice: Account, rt: Runtime
) -> None:
    def value(text: str, name: str) -> float:
        line = next(line for line in text.splitlines() if line.startswith(name + " "))
        return float(line.split()[1])

    before = (await client.get("/metrics")).text
    task = (await client.post("/api/tasks", json={"title": "x"}, headers=alice.headers)).json()
    await client.delete(f"/api/tasks/{task['id']}", headers=alice.headers)
    await rt.outgoing.drain()  # changes are counted after commit, off the request path
    after = (await client.get("/metrics")).text
    assert value(after, "todo_tasks_created_total") == value(before, "todo_tasks_created_total") + 1
    assert value(after, "todo_tasks_deleted_total") == value(before, "todo_tasks_deleted_total") + 1


async def test_unknown_route_is_404_and_wrong_method_is_405_as_problems(
    client: httpx.AsyncClient, alice: Account
) -> None:
    missing = await client.get("/api/nothing-here", headers=alice.headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await client.put("/api/tasks", headers=alice.headers)
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, POST"
    assert wrong.json()["type"] == "/problems/method-not-allowed"


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_a_literal_path_is_not_a_task_id(
    client: httpx.AsyncClient, alice: Account, method: str
) -> None:
    """/api/tasks/parse takes POST only; other methods are 405, not a task called "parse"."""
    answer = await client.request(method, "/api/tasks/parse", headers=alice.headers)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"


async def test_the_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/health", headers={"x-request-id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/health", headers={"x-request-id": "bad id with spaces"})
    assert made.headers["x-request-id"] not in ("", "bad id with spaces")


async def test_logs_are_json_lines_with_the_request_id(
    client: httpx.AsyncClient, alice: Account, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="todo.http")
    await client.get("/api/tasks", headers={**alice.headers, "x-request-id": "trace-me"})
    record = next(r for r in caplog.records if r.name == "todo.http")
    line = JsonFormatter("tests").format(record)
    entry = json.loads(line)
    assert entry["request_id"] == "trace-me"
    assert entry["function"] == "query_tasks"
    assert entry["route"] == "/api/tasks"
    assert entry["status"] == 200
    assert entry["level"] == "info"
    assert "\n" not in line


async def test_an_unexpected_error_is_a_problem_500_without_internals(
    client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    from todo import task_queries

    async def broken(*args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(task_queries, "list_tasks", broken)
    response = await client.get("/api/tasks", headers=alice.headers)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text


@pytest.mark.parametrize("path", ["/api/tasks/a%0Ab", "/api/tasks/%00", "/api/x%7F"])
async def test_a_path_with_a_control_character_is_a_problem_404(
    client: httpx.AsyncClient, alice: Account, path: str
) -> None:
    response = await client.get(path, headers=alice.headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/not-found"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"x-padding": "a" * 16 * 1024}, id="one-big-header"),
        pytest.param({f"x-h{i}": "1" for i in range(101)}, id="too-many-headers"),
    ],
)
async def test_oversized_headers_are_431_before_anything_else(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    # Not even a token is needed to be told: the size is checked before routing.
    response = await client.post("/api/tasks", json={"title": "x"}, headers=headers)
    assert response.status_code == 431
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/headers-too-large"


async def test_headers_within_the_limits_pass(client: httpx.AsyncClient, alice: Account) -> None:
    headers = {**alice.headers, "x-padding": "a" * 15 * 1024}
    headers |= {f"x-h{i}": "1" for i in range(80)}
    assert (await client.get("/api/tasks", headers=headers)).status_code == 200
