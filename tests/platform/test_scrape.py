"""Prometheus (Debian's) scrapes every function and every daprd of the stack with the
cluster's PodMonitors (stack/prometheus.py), the series carry the labels the alert rules
select on, and the rules load in a real server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from deploy import KNATIVE
from deploy.render import render
from stack.platform import PlatformStack
from stack.prometheus import DAPR_METRICS_PORT, USER_PORT, rule_groups
from tests.platform.conftest import Api, eventually

# The stack's scrape interval is 1 s; the first scrapes wait for the targets' first answers.
UP_SECONDS = 30.0


class Prometheus:
    """Prometheus' HTTP API."""

    def __init__(self, url: str) -> None:
        self.http = httpx.AsyncClient(base_url=url, timeout=10.0)

    async def data(self, path: str, **params: str) -> Any:
        response = await self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    async def query(self, promql: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = (await self.data("/api/v1/query", query=promql))["result"]
        return result

    async def services(self, promql: str) -> set[str]:
        """The kn_service_name of each series `promql` returns."""
        return {series["metric"].get("kn_service_name", "") for series in await self.query(promql)}


@pytest.fixture
async def prometheus(platform: PlatformStack) -> AsyncIterator[Prometheus]:
    client = Prometheus(platform.prometheus_url)
    yield client
    await client.http.aclose()


def services(platform: PlatformStack) -> set[str]:
    return {instance.app_id for instance in platform.instances}


async def test_every_function_and_every_sidecar_is_a_target_and_up(
    platform: PlatformStack, prometheus: Prometheus
) -> None:
    expected = {
        (instance.pod_name, endpoint)
        for instance in platform.instances
        for endpoint in (USER_PORT, DAPR_METRICS_PORT)
    }
    deadline = time.monotonic() + UP_SECONDS
    while True:
        targets = (await prometheus.data("/api/v1/targets", state="active"))["activeTargets"]
        health = {(t["labels"]["pod"], t["labels"]["endpoint"]): t for t in targets}
        down = {
            f"{pod}/{endpoint}: {health[pod, endpoint]['lastError'] or 'not scraped yet'}"
            if (pod, endpoint) in health
            else f"{pod}/{endpoint}: not a target"
            for pod, endpoint in expected
            if health.get((pod, endpoint), {}).get("health") != "up"
        }
        if not down or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert not down, f"not up after {UP_SECONDS:.0f} s: {sorted(down)}"
    assert set(health) == expected

    up = await prometheus.query('up{job="todo/todo-functions"}')
    assert {
        (s["metric"]["pod"], s["metric"]["endpoint"]): s["value"][1] for s in up
    } == dict.fromkeys(expected, "1")


async def test_function_series_carry_the_labels_the_alerts_select_on(
    platform: PlatformStack, prometheus: Prometheus, api: Api
) -> None:
    await api.register()

    async def requests_counted() -> bool:
        return "auth" in await prometheus.services(
            'todo_http_requests_total{function="auth", status="201", namespace="todo",'
            ' container="function", endpoint="user-port"} > 0'
        )

    await eventually(requests_counted, "auth's todo_http_requests_total with kn_service_name")
    # TodoNoTick and TodoTickMetricMissing pick the tick's series by kn_service_name.
    tick = await prometheus.query(
        'todo_tick_last_success_timestamp_seconds{kn_service_name="tick-reminders"} > 0'
    )
    assert [s["metric"]["pod"] for s in tick] == ["tick-reminders-0"]
    # The dead-letter and stalled-consumer rules join todo_* series to the process' start
    # time on `instance`: both come from the same target.
    assert await prometheus.services(
        'process_start_time_seconds{endpoint="user-port"} and on (instance) todo_dead_letters_total'
    ) == services(platform)


async def test_sidecar_series_carry_the_service_they_run_beside(
    platform: PlatformStack, prometheus: Prometheus, api: Api
) -> None:
    # daprd labels its own series with its app id: each must land on its own Service.
    pairs = await prometheus.query(
        'group by (kn_service_name, app_id) ({__name__=~"dapr_.+", endpoint="dapr-metrics"})'
    )
    assert {(s["metric"]["kn_service_name"], s["metric"]["app_id"]) for s in pairs} == {
        (service, service) for service in services(platform)
    }
    assert "tick-reminders" in await prometheus.services(
        'dapr_runtime_component_loaded{endpoint="dapr-metrics"}'
    )
    user = await api.register()
    await api.create_task(user, title="counted by two sidecars")

    async def published_and_delivered() -> bool:
        published = await prometheus.services(
            'dapr_component_pubsub_egress_bulk_count{topic="task.events", success="true"}'
        )
        # process-event takes task.events in bulk (dapr/subscriptions.yaml): counted per entry.
        delivered = await prometheus.services(
            "dapr_component_pubsub_ingress_bulk_event_count"
            '{topic="task.events", process_status=~"(?i)success"}'
        )
        return "create-task" in published and "process-event" in delivered

    await eventually(published_and_delivered, "pub/sub series of create-task and process-event")


async def test_the_alert_rules_load_and_evaluate_without_errors(
    prometheus: Prometheus,
) -> None:
    [spec] = rule_groups(render(KNATIVE / "monitoring")).values()

    async def rules() -> dict[str, dict[str, Any]]:
        groups = (await prometheus.data("/api/v1/rules"))["groups"]
        assert sorted(g["name"] for g in groups) == sorted(g["name"] for g in spec["groups"])
        return {rule["name"]: rule for group in groups for rule in group["rules"]}

    # absent(...{kn_service_name="tick-reminders"}) is silent only where the label is set.
    async def evaluated_with_the_tick_metric_present() -> dict[str, dict[str, Any]] | None:
        loaded = await rules()
        evaluated = all(not r["lastEvaluation"].startswith("0001") for r in loaded.values())
        silent = loaded["TodoTickMetricMissing"]["state"] == "inactive"
        return loaded if evaluated and silent else None

    loaded = await eventually(
        evaluated_with_the_tick_metric_present, "evaluation with TodoTickMetricMissing silent"
    )
    assert {name: r["lastError"] for name, r in loaded.items() if r["health"] != "ok"} == {}
