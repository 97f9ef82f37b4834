"""The Knative Services are what the function set needs: scale bounds per trigger, Dapr on
every pod, readiness on /ready, read-only and non-root, and the right visibility."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from deploy import DAPR, ROOT
from deploy.manifests import load_documents
from tests.deploy_support import find, knative_service, rendered, template_annotations

# (service, FUNCTION_TARGET, min, max, cluster-local) in the Dapr-subscription overlays.
FUNCTIONS = [
    ("auth", "auth", 0, 3, False),
    ("create-task", "create_task", 0, 3, False),
    ("update-task", "update_task", 0, 3, False),
    ("query-tasks", "query_tasks", 0, 3, False),
    ("reminders", "reminders", 0, 3, False),
    ("notify", "notify", 1, 3, False),
    ("process-event", "process_event", 1, 3, True),
    ("tick-reminders", "tick_reminders", 1, 1, True),
    ("realtime", None, 1, 3, False),
]


def container(service: dict[str, Any]) -> dict[str, Any]:
    (only,) = service["spec"]["template"]["spec"]["containers"]
    found: dict[str, Any] = only
    return found


@pytest.mark.parametrize(("name", "target", "low", "high", "local"), FUNCTIONS)
def test_each_function_scales_as_its_trigger_needs(
    name: str, target: str | None, low: int, high: int, local: bool
) -> None:
    service = knative_service(rendered("oracle"), name)
    notes = template_annotations(service)
    assert notes["autoscaling.knative.dev/min-scale"] == str(low)
    assert notes["autoscaling.knative.dev/max-scale"] == str(high)
    visibility = service["metadata"]["labels"].get("networking.knative.dev/visibility")
    assert (visibility == "cluster-local") is local
    env = {e["name"]: e.get("value") for e in container(service)["env"]}
    if target is not None:
        assert env["FUNCTION_TARGET"] == target
        assert env["FUNCTION_SOURCE"] == f"functions/{target}/main.py"
    if low == 0:
        assert notes["autoscaling.knative.dev/initial-scale"] == "0"


@pytest.mark.parametrize("name", [f[0] for f in FUNCTIONS])
def test_every_pod_has_dapr_probes_limits_and_a_read_only_root(name: str) -> None:
    service = knative_service(rendered("oracle"), name)
    notes = template_annotations(service)
    assert notes["dapr.io/enabled"] == "true"
    assert notes["dapr.io/app-id"] == name
    # The app's own port, or queue-proxy's in front of it (the event consumers, below).
    assert notes["dapr.io/app-port"] in ("8080", str(QUEUE_PROXY_PORT))
    assert notes["dapr.io/metrics-port"] not in ("9090", "9091")
    for key in ("cpu-request", "cpu-limit", "memory-request", "memory-limit"):
        assert notes[f"dapr.io/sidecar-{key}"]
    assert notes["dapr.io/log-level"] == "info"
    assert notes["dapr.io/config"] == "todo"
    spec = container(service)
    assert spec["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert spec["ports"] == [{"name": "http1", "containerPort": 8080}]
    assert (
        set(spec["resources"]["requests"]) == set(spec["resources"]["limits"]) == {"cpu", "memory"}
    )
    security = spec["securityContext"]
    assert security["readOnlyRootFilesystem"]
    assert security["runAsNonRoot"]
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"name": "tmp", "mountPath": "/tmp"} in spec["volumeMounts"]
    assert service["spec"]["template"]["spec"]["containerConcurrency"] >= 0


def test_realtime_is_always_on_and_websocket_friendly() -> None:
    service = knative_service(rendered("oracle"), "realtime")
    notes = template_annotations(service)
    assert notes["autoscaling.knative.dev/target-burst-capacity"] == "0"
    spec = service["spec"]["template"]["spec"]
    assert spec["timeoutSeconds"] == 3600
    assert spec["containerConcurrency"] == 0
    assert container(service)["command"] == ["python", "-m", "realtime"]


@pytest.mark.parametrize(
    ("overlay", "group"), [("oracle", "consumerGroup"), ("local", "consumerID")]
)
def test_realtime_reads_through_a_consumer_group_of_its_own_per_pod(
    overlay: str, group: str
) -> None:
    resources = rendered(overlay)
    component = find(resources, "Component", "realtime-pubsub")
    assert component["scopes"] == ["realtime"]
    metadata = {m["name"]: m.get("value") for m in component["spec"]["metadata"]}
    assert "{podName}" in metadata[group]
    shared = find(resources, "Component", "pubsub")
    assert "realtime" not in shared["scopes"]
    assert {m["name"]: m.get("value") for m in shared["spec"]["metadata"]}[group] == "{appID}"


def test_redpanda_is_reached_over_tls_with_sasl_scram_from_the_oldest_offset() -> None:
    pubsub = find(rendered("oracle"), "Component", "pubsub")
    assert pubsub["spec"]["type"] == "pubsub.kafka"
    metadata = {m["name"]: m for m in pubsub["spec"]["metadata"]}
    assert metadata["authType"]["value"] == "password"
    assert metadata["saslMechanism"]["value"] == "SHA-256"
    assert metadata["disableTls"]["value"] == "false"
    assert metadata["initialOffset"]["value"] == "oldest"
    assert all("secretKeyRef" in metadata[k] for k in ("brokers", "saslUsername", "saslPassword"))


def test_the_tick_binding_fires_every_minute_for_the_tick_function_only() -> None:
    tick = find(rendered("oracle"), "Component", "tick")
    assert tick["spec"]["type"] == "bindings.cron"
    assert {"name": "schedule", "value": "@every 1m"} in tick["spec"]["metadata"]
    assert tick["scopes"] == ["tick-reminders"]


def test_resiliency_retries_pubsub_both_ways_and_breaks_only_publishes() -> None:
    """Dapr keeps one breaker per component for both directions: one on inbound would let a
    failing consumer stop its sidecar's publishes, dead letters included."""
    (policy,) = load_documents(DAPR / "resiliency.yaml")
    target = policy["spec"]["targets"]["components"]["pubsub"]
    for direction in ("inbound", "outbound"):
        retry = policy["spec"]["policies"]["retries"][target[direction]["retry"]]
        assert retry["policy"] == "exponential"
    assert "circuitBreaker" not in target["inbound"]
    assert target["outbound"]["circuitBreaker"] in policy["spec"]["policies"]["circuitBreakers"]


def _duration_seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


def test_inbound_retries_outlast_a_30_second_database_outage() -> None:
    """Dapr's exponential policy (cenkalti/backoff's defaults, docs.dapr.io "Resiliency
    policies"): the first retry 500 ms after the failure, each next interval 1.5 times
    longer up to maxInterval, each randomized by up to half either way. Even at the short
    end of every interval the retries must span the platform suite's 30 s outage
    (tests/platform/test_faults.py), or good events are dead-lettered. (12 retries up to
    15 s apart: 41 s at the shortest, about 80 s on average.)"""
    (policy,) = load_documents(DAPR / "resiliency.yaml")
    inbound = policy["spec"]["targets"]["components"]["pubsub"]["inbound"]
    retry = policy["spec"]["policies"]["retries"][inbound["retry"]]
    ceiling = _duration_seconds(retry["maxInterval"])
    interval, shortest = 0.5, 0.0
    for _ in range(int(retry["maxRetries"])):
        shortest += 0.5 * interval
        interval = min(interval * 1.5, ceiling)
    assert shortest > 30.0


def test_the_dapr_operator_watchdog_restarts_pods_that_miss_their_sidecar() -> None:
    tasks = yaml.safe_load((ROOT / "Taskfile.yml").read_text())["tasks"]
    helm = " ".join(" ".join(str(c).split()) for c in tasks["platform:dapr"]["cmds"])
    found = re.search(r"--set dapr_operator\.watchInterval=(\S+)", helm)
    assert found is not None
    assert _duration_seconds(found.group(1)) > 0


# queue-proxy's HTTP port in every Knative pod, in front of the app's own.
QUEUE_PROXY_PORT = 8012
# The partitions of each topic, as docs/deploy.md creates them (`rpk topic create ... -p 3`).
PARTITIONS = int(
    re.search(r"rpk topic create [^`]*?-p (\d+)", (ROOT / "docs" / "deploy.md").read_text())[1]  # type: ignore[index]
)


@pytest.mark.parametrize("overlay", ["local", "oracle"])
def test_consumers_deliver_through_queue_proxy_and_scale_out_with_a_backlog(overlay: str) -> None:
    """A delivery past queue-proxy is one Knative's autoscaler never sees (issue #13, 6)."""
    resources = rendered(overlay)
    scoped = {app for r in resources if r["kind"] == "Subscription" for app in r["scopes"]}
    # realtime reads every event in every pod (a consumer group per pod): nothing to share.
    # The tick is one pod by design (its sidecar fires the cron binding, and it keeps the
    # next reminder's instant in memory); the reminder events it reads are few.
    consumers = scoped - {"realtime", "tick-reminders"}
    assert consumers == {"notify", "process-event"}
    for name in consumers:
        notes = template_annotations(knative_service(resources, name))
        assert int(notes["dapr.io/app-port"]) == QUEUE_PROXY_PORT, name
        low = int(notes["autoscaling.knative.dev/min-scale"])
        high = int(notes["autoscaling.knative.dev/max-scale"])
        assert 1 <= low < high <= PARTITIONS, name
        # A busy partition is one delivery in flight: the target must let one scale a pod.
        assert float(notes["autoscaling.knative.dev/target"]) <= 1, name
    realtime = knative_service(resources, "realtime")
    port = container(realtime)["ports"][0]["containerPort"]
    assert int(template_annotations(realtime)["dapr.io/app-port"]) == port


def test_secrets_are_referenced_never_inlined() -> None:
    for overlay in ("local", "oracle", "oracle-kafkasource"):
        resources = rendered(overlay)
        assert not [r for r in resources if r["kind"] == "Secret"]
        for resource in resources:
            text = yaml.safe_dump(resource)
            assert "change-me" not in text
