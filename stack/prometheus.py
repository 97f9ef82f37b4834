"""Prometheus for the stack: the cluster's PodMonitors (knative/monitoring) as a plain scrape
configuration, run by Debian's `prometheus` with the cluster's alert rules.

The Prometheus Operator turns each PodMonitor endpoint into one scrape job over Kubernetes'
pod discovery: a target per container port of every pod in the PodMonitor's namespace, kept
when the pod matches the selector and the port's name is the endpoint's, labelled namespace,
container, pod, job and endpoint, then relabelled by the endpoint's own relabelings. Here the
stack's instances stand in for the discovery: each pod's named ports as Knative and the Dapr
injector name them (the app's `user-port`, the sidecar's `dapr-metrics`), with the
`__meta_kubernetes_*` labels Kubernetes gives them, at the loopback port where the stack
serves that port. The Operator's relabelings come first, so Prometheus itself selects the
targets as it does in the cluster.

Left out, because they cannot exist outside a cluster:

- todo-functions' `http-usermetric` endpoint: Knative's queue-proxy, which the stack does not
  run (requests reach the app's port directly);
- the knative-activator PodMonitor: the activator is part of Knative Serving.

Differences from the cluster: every job scrapes at SCRAPE_INTERVAL instead of the endpoint's
interval, so a test does not wait 30 s; there is no sharding relabeling (one Prometheus).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from deploy import KNATIVE
from deploy.manifests import Resource
from deploy.render import render
from stack.processes import Process, answers
from stack.selfhosted import AppSpec

if TYPE_CHECKING:
    from stack.platform import Instance

BINARY = "/usr/bin/prometheus"
ADDRESS = "127.0.0.1:9090"
URL = f"http://{ADDRESS}"
SCRAPE_INTERVAL = "1s"
READY_SECONDS = 30.0
# What only a cluster has: Knative's activator, and the queue-proxy's metrics port.
CLUSTER_ONLY_MONITORS = {"knative-activator"}
CLUSTER_ONLY_PORTS = {"http-usermetric"}
# The names Knative gives the user container's port and the Dapr injector the sidecar's
# metrics port, and the injector's name for the sidecar's container.
USER_PORT = "user-port"
DAPR_METRICS_PORT = "dapr-metrics"
DAPR_CONTAINER = "daprd"
# Endpoint fields the stack turns into scrape configuration; any other is refused.
ENDPOINT_FIELDS = {"port", "path", "interval", "relabelings", "metricRelabelings"}
# The Operator's RelabelConfig fields and Prometheus' names for them.
RELABEL_FIELDS = {
    "sourceLabels": "source_labels",
    "separator": "separator",
    "targetLabel": "target_label",
    "regex": "regex",
    "modulus": "modulus",
    "replacement": "replacement",
    "action": "action",
}


class Untranslatable(ValueError):
    """A PodMonitor asks for something this translation does not do: refused, not guessed."""


@dataclass(frozen=True)
class ContainerPort:
    """A named port of a pod's container, and where the stack serves it."""

    container: str
    name: str
    number: int
    address: str


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: dict[str, str]
    ports: list[ContainerPort]


def pods(specs: Iterable[AppSpec], instances: Iterable[Instance], namespace: str) -> list[Pod]:
    """The stack's instances as Kubernetes would list their pods."""
    by_app = {spec.app_id: spec for spec in specs}
    return [_pod(by_app[instance.app_id], instance, namespace) for instance in instances]


def _pod(spec: AppSpec, instance: Instance, namespace: str) -> Pod:
    # Knative labels every pod of a revision with its Service, Configuration and Revision.
    knative = {
        "serving.knative.dev/service": spec.service,
        "serving.knative.dev/configuration": spec.service,
        "serving.knative.dev/revision": f"{spec.service}-00001",
    }
    metrics_port = int(spec.annotations["dapr.io/metrics-port"])
    return Pod(
        instance.pod_name,
        namespace,
        spec.labels | knative,
        [
            ContainerPort(spec.container, USER_PORT, spec.port, f"127.0.0.1:{instance.ports.app}"),
            ContainerPort(
                DAPR_CONTAINER,
                DAPR_METRICS_PORT,
                metrics_port,
                f"127.0.0.1:{instance.ports.dapr_metrics}",
            ),
        ],
    )


def discovered(pod: Pod, port: ContainerPort) -> dict[str, str]:
    """The target labels Kubernetes' pod discovery gives one container port."""
    labels = {
        "__meta_kubernetes_namespace": pod.namespace,
        "__meta_kubernetes_pod_name": pod.name,
        "__meta_kubernetes_pod_ip": "127.0.0.1",
        "__meta_kubernetes_pod_container_name": port.container,
        "__meta_kubernetes_pod_container_port_name": port.name,
        "__meta_kubernetes_pod_container_port_number": str(port.number),
        "__meta_kubernetes_pod_container_port_protocol": "TCP",
    }
    for name, value in pod.labels.items():
        labels[f"__meta_kubernetes_pod_label_{_sanitized(name)}"] = value
        labels[f"__meta_kubernetes_pod_labelpresent_{_sanitized(name)}"] = "true"
    return labels


def _sanitized(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def scrape_config(monitoring: Iterable[Resource], pods: list[Pod], rule_files: list[str]) -> Any:
    """prometheus.yml: one job per PodMonitor endpoint the stack can have."""
    jobs = []
    for monitor in monitoring:
        if monitor["kind"] != "PodMonitor" or monitor["metadata"]["name"] in CLUSTER_ONLY_MONITORS:
            continue
        for index, endpoint in enumerate(monitor["spec"]["podMetricsEndpoints"]):
            if endpoint.get("port") not in CLUSTER_ONLY_PORTS:
                jobs.append(scrape_job(monitor, index, endpoint, pods))
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": rule_files,
        "scrape_configs": jobs,
    }


def scrape_job(
    monitor: Resource, index: int, endpoint: Mapping[str, Any], pods: list[Pod]
) -> dict[str, Any]:
    """The job the Operator generates for one endpoint, over the stack's pods."""
    namespace, name = monitor["metadata"]["namespace"], monitor["metadata"]["name"]
    unknown = set(endpoint) - ENDPOINT_FIELDS
    if unknown:
        raise Untranslatable(f"{name}: the stack cannot scrape with {sorted(unknown)}")
    return {
        "job_name": f"podMonitor/{namespace}/{name}/{index}",
        "metrics_path": endpoint.get("path", "/metrics"),
        "static_configs": [
            {"targets": [port.address], "labels": discovered(pod, port)}
            for pod in pods
            if pod.namespace == namespace
            for port in pod.ports
        ],
        "relabel_configs": operator_relabelings(monitor, endpoint["port"])
        + relabel_configs(endpoint.get("relabelings", [])),
        "metric_relabel_configs": relabel_configs(endpoint.get("metricRelabelings", [])),
    }


def operator_relabelings(monitor: Resource, port: str) -> list[dict[str, Any]]:
    """What the Operator puts before an endpoint's relabelings: keep the selected pods' port
    and label the target with its namespace, container, pod, job and endpoint."""
    namespace, name = monitor["metadata"]["namespace"], monitor["metadata"]["name"]
    spec, selector = monitor["spec"], monitor["spec"]["selector"]
    if set(spec) != {"selector", "podMetricsEndpoints"} or set(selector) != {"matchLabels"}:
        raise Untranslatable(f"{name}: the stack selects pods in its namespace by matchLabels only")
    keep = [
        {
            "action": "keep",
            "source_labels": [
                f"__meta_kubernetes_pod_label_{_sanitized(label)}",
                f"__meta_kubernetes_pod_labelpresent_{_sanitized(label)}",
            ],
            "regex": f"({value});true",
        }
        for label, value in sorted(selector["matchLabels"].items())
    ]
    keep.append(
        {
            "action": "keep",
            "source_labels": ["__meta_kubernetes_pod_container_port_name"],
            "regex": port,
        }
    )
    named = [
        {"source_labels": [f"__meta_kubernetes_{source}"], "target_label": target}
        for source, target in [
            ("namespace", "namespace"),
            ("pod_container_name", "container"),
            ("pod_name", "pod"),
        ]
    ]
    named += [
        {"target_label": "job", "replacement": f"{namespace}/{name}"},
        {"target_label": "endpoint", "replacement": port},
    ]
    return keep + named


def relabel_configs(relabelings: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The Operator's RelabelConfigs in Prometheus' field names."""
    translated = []
    for relabeling in relabelings:
        unknown = set(relabeling) - set(RELABEL_FIELDS)
        if unknown:
            raise Untranslatable(f"unknown relabeling fields {sorted(unknown)}")
        config = {RELABEL_FIELDS[key]: value for key, value in relabeling.items()}
        if "action" in config:
            config["action"] = config["action"].lower()
        translated.append(config)
    return translated


def rule_groups(monitoring: Iterable[Resource]) -> dict[str, Any]:
    """The PrometheusRules' specs, each a rule file's content, by rule name."""
    return {r["metadata"]["name"]: r["spec"] for r in monitoring if r["kind"] == "PrometheusRule"}


def start(
    work_dir: Path, specs: Iterable[AppSpec], instances: Iterable[Instance], namespace: str
) -> Process:
    """Write the configuration and rule files under `work_dir/prometheus` and start
    Prometheus on them; returns once it is ready."""
    directory = work_dir / "prometheus"
    directory.mkdir(parents=True, exist_ok=True)
    monitoring = render(KNATIVE / "monitoring")
    rule_files = []
    for name, spec in rule_groups(monitoring).items():
        rule_file = directory / f"rules-{name}.yaml"
        rule_file.write_text(yaml.safe_dump(spec, sort_keys=False))
        rule_files.append(str(rule_file))
    config = directory / "prometheus.yml"
    stack_pods = pods(specs, instances, namespace)
    config.write_text(
        yaml.safe_dump(scrape_config(monitoring, stack_pods, rule_files), sort_keys=False)
    )
    process = Process(
        "prometheus",
        [
            BINARY,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address={ADDRESS}",
        ],
        work_dir / "logs" / "prometheus.log",
    )
    process.start()
    process.wait_until(answers(f"{URL}/-/ready"), READY_SECONDS, "ready answer")
    return process
