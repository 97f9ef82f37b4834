"""The manifests agree with each other and with the code: Dapr app-ids and scopes, event
delivery, topics, Secrets, settings, and the metric names in dashboards and alerts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deploy import KNATIVE, consistency, secrets
from tests.deploy_support import (
    OVERLAYS_ALL,
    find,
    knative_service,
    monitoring,
    rendered,
    template_annotations,
)

DASHBOARD = KNATIVE / "monitoring" / "grafana-dashboard.json"


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_every_dapr_app_id_and_scope_names_a_function(overlay: str) -> None:
    resources = rendered(overlay)
    assert consistency.app_ids(resources) == []
    assert consistency.dapr_scopes(resources) == []


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_every_subscription_is_delivered_exactly_once(overlay: str) -> None:
    assert consistency.deliveries(rendered(overlay)) == []


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_every_published_topic_is_consumed_or_documented_as_external(overlay: str) -> None:
    assert consistency.topics(rendered(overlay)) == []


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_every_secret_key_referenced_is_in_the_example_env(overlay: str) -> None:
    assert consistency.secret_keys(rendered(overlay)) == []


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_every_variable_a_function_gets_is_a_setting(overlay: str) -> None:
    assert consistency.settings_names(rendered(overlay)) == []


def test_dashboard_and_alert_queries_name_metrics_the_code_exports() -> None:
    queries = consistency.queries(monitoring(), DASHBOARD)
    titles = {where for where, _ in queries}
    for panel in (
        "Request rate",
        "Errors",
        "Latency",
        "Tasks created",
        "Events processed",
        "Dead letters",
        "Outbox backlog",
        "Reminders delivered",
        "Websocket",
    ):
        assert any(panel in t for t in titles), panel
    for alert in (
        "TodoHighErrorRate",
        "TodoDeadLetters",
        "TodoConsumerStalled",
        "TodoOutboxBacklogOld",
        "TodoNoTick",
    ):
        assert f"alert {alert}" in titles
    assert consistency.metric_names(queries, consistency.exported_metrics()) == []


# Gauges the tick sets for the whole system, not for its own pod: during a rollout two pods
# report the same value, and adding them up doubles it.
SYSTEM_GAUGES = (
    "todo_outbox_backlog",
    "todo_outbox_oldest_unpublished_seconds",
    "todo_tick_last_success_timestamp_seconds",
)
_SUMMED = re.compile(r"\bsum\s*(?:by\s*\([^)]*\)\s*)?\(\s*(" + "|".join(SYSTEM_GAUGES) + r")\b")


def test_system_wide_gauges_are_never_added_across_pods() -> None:
    queries = consistency.queries(monitoring(), DASHBOARD)
    assert any(name in expr for _, expr in queries for name in SYSTEM_GAUGES)
    assert [(where, expr) for where, expr in queries if _SUMMED.search(expr)] == []


def test_a_metric_name_the_code_does_not_export_is_caught() -> None:
    exported = {"todo_http_requests_total", "todo_http_request_duration_seconds_bucket"}
    problems = consistency.metric_names(
        [
            ("panel a", "rate(todo_http_requests_total[5m])"),
            ("panel b", "todo_http_request_total"),
            ("panel c", "up"),
            ("alert d", "rate(http_server_request_duration_seconds_count[5m])"),
            ("alert level:todo_http_requests:rate5m", "rate(todo_http_requests_total[5m])"),
            ("alert e", "level:todo_http_requests:rate5m > 0"),
            ("alert f", "level:todo_http_request:rate5m > 0"),
        ],
        exported,
    )
    assert problems == [
        "panel b: todo_http_request_total is not exported by the code",
        "panel c: names none of the functions' or Knative's metrics",
        "alert f: level:todo_http_request:rate5m is recorded by no rule",
    ]


def test_exported_metrics_include_the_standard_suffixes() -> None:
    exported = consistency.exported_metrics()
    assert {
        "todo_http_requests_total",
        "todo_http_request_duration_seconds_bucket",
        "todo_http_request_duration_seconds_count",
    } <= exported


def test_the_kafkasource_variant_swaps_dapr_subscriptions_for_kafka_sources() -> None:
    resources = rendered("oracle-kafkasource")
    subscriptions = {r["metadata"]["name"] for r in resources if r["kind"] == "Subscription"}
    # realtime keeps its Dapr subscriptions (it is always on, one consumer group per pod), and
    # so does the tick (always on, its sidecar fires the cron binding; it keeps only an
    # instant from the events, in memory).
    assert subscriptions == {
        "tick-reminders-reminder-events",
        "realtime-task-events",
        "realtime-reminder-events",
        "realtime-recurrence-events",
        "realtime-notification-events",
    }
    sources = [r for r in resources if r["kind"] == "KafkaSource"]
    assert {s["spec"]["sink"]["ref"]["name"] for s in sources} == {"notify", "process-event"}
    # KafkaSource deliveries carry no dapr-api-token but their sender's OIDC token, which
    # the fed services check (tests/test_deploy_event_senders.py has the details).
    for service in resources:
        if service["kind"] == "Service" and service["metadata"]["name"] in (
            "notify",
            "process-event",
        ):
            env = service["spec"]["template"]["spec"]["containers"][0]["env"]
            assert {"EVENT_AUDIENCE", "EVENT_SENDERS"} <= {e["name"] for e in env}
    for source in sources:
        spec = source["spec"]
        assert spec["net"]["sasl"]["enable"]
        assert spec["net"]["tls"]["enable"]
        assert spec["delivery"]["backoffPolicy"] == "exponential"
        assert spec["ordering"] == "ordered"
    assert all(
        "deadLetterSink" in s["spec"]["delivery"]
        for s in sources
        if not s["spec"]["topics"][0].endswith(".dlq")
    )
    for name in ("notify", "process-event"):
        assert (
            template_annotations(knative_service(resources, name))[
                "autoscaling.knative.dev/min-scale"
            ]
            == "0"
        )


def test_a_subscription_delivered_twice_or_not_at_all_is_caught() -> None:
    resources = rendered("oracle-kafkasource")
    resources = [r for r in resources if r["metadata"]["name"] != "notify-reminder-events"]
    assert consistency.deliveries(resources) == [
        "reminder.events to notify /events: delivered by nothing"
    ]
    both = rendered("oracle") + [
        r for r in rendered("oracle-kafkasource") if r["kind"] == "KafkaSource"
    ]
    assert len(consistency.deliveries(both)) == 4


def test_an_unknown_scope_or_an_unreadable_secret_store_is_caught() -> None:
    resources = rendered("oracle")
    find(resources, "Component", "tick")["scopes"] = ["tick"]
    find(resources, "Component", "secretstore")["scopes"].remove("realtime")
    problems = consistency.dapr_scopes(resources)
    assert "Component/todo/tick: scope tick is no Knative Service" in problems
    assert "Component/todo/realtime-pubsub: ['realtime'] cannot read store secretstore" in problems


def test_an_unlisted_secret_key_and_a_stray_variable_are_caught() -> None:
    resources = rendered("oracle")
    env = knative_service(resources, "auth")["spec"]["template"]["spec"]["containers"][0]["env"]
    env.append({"name": "DB_POOLMAX", "value": "3"})
    env.append({"name": "X", "valueFrom": {"secretKeyRef": {"name": "todo-secrets", "key": "X"}}})
    assert "Secret todo-secrets has no key X in deploy/secrets.py" in consistency.secret_keys(
        resources
    )
    assert "Service/todo/auth: DB_POOLMAX is not a setting" in consistency.settings_names(resources)


def test_a_published_topic_nobody_consumes_must_be_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = tmp_path / "external-topics.yaml"
    listed.write_text(
        "external:\n  notification.events.dlq: integrations\n  task.events: consumed!\n"
    )
    monkeypatch.setattr(consistency, "EXTERNAL_TOPICS", listed)
    assert consistency.topics(rendered("oracle")) == [
        "topic recurrence.events.dlq is published but neither consumed nor listed in "
        "external-topics.yaml",
        "external-topics.yaml: task.events is not published, or has a consumer here",
    ]


def test_secret_manifests_come_from_the_env_file(tmp_path: Path) -> None:
    env = tmp_path / "secrets.env"
    env.write_text(
        "DATABASE_URL='postgresql://u:p@db/todo'\nexport JWT_SECRET=" + "k" * 32 + "\n"
        "DAPR_API_TOKEN=a\nAPP_API_TOKEN=b\nPOSTGRES_PASSWORD=change-me\n"
    )
    values = secrets.read_env_file(env)
    built = secrets.manifests(values, ["todo-secrets", "dapr-api-token"], "todo")
    assert [s["metadata"]["name"] for s in built] == ["dapr-api-token", "todo-secrets"]
    assert built[1]["stringData"] == {
        "DATABASE_URL": "postgresql://u:p@db/todo",
        "JWT_SECRET": "k" * 32,
    }
    with pytest.raises(secrets.SecretsError, match="POSTGRES_PASSWORD still holds"):
        secrets.manifests(values, ["postgres"], "todo")
    with pytest.raises(secrets.SecretsError, match="REDPANDA_BROKERS"):
        secrets.manifests(values, ["redpanda"], "todo")
    with pytest.raises(secrets.SecretsError, match="at least 32"):
        secrets.manifests({**values, "JWT_SECRET": "short"}, ["todo-secrets"], "todo")
