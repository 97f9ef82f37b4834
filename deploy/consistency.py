"""Checks that the manifests agree with each other and with the code.

Each function returns a list of problems (empty when consistent), so the tests and
`task validate` can show all of them at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

import yaml

from deploy import DAPR, secrets
from deploy.manifests import Resource, describe, load_documents
from deploy.routes import knative_services

SUBSCRIPTIONS = DAPR / "subscriptions.yaml"
EXTERNAL_TOPICS = Path(__file__).with_name("external-topics.yaml")
IMAGE = "todo-functions"
# Environment variables that are not todo/settings.py fields: functions-framework's own.
FRAMEWORK_ENV = {"FUNCTION_TARGET", "FUNCTION_SOURCE"}
# Suffixes Prometheus adds to a metric family's name in the exposition.
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}
# A function's metric; not the middle of a recording rule's name (`topic:todo_x:any10m`).
_METRIC = re.compile(r"(?<!:)\btodo_[a-z0-9_]+\b")
# A recording rule's name (`level:metric:operations`), made by a rule next to the alerts.
_RECORDING = re.compile(r"\b[a-z_]+:[a-z0-9_:]+")
# Knative's metrics the alerts use, as its activator and queue-proxies export them (the
# OpenTelemetry HTTP server conventions; scraped by knative/monitoring/podmonitor.yaml).
_KNATIVE_METRIC = re.compile(r"\bhttp_server_request_duration_seconds_count\b")
# Prometheus' own series for each scrape target (one per pod and container the PodMonitors
# scrape): which containers a function pod has.
_SCRAPE_METRIC = re.compile(r"\bup\{")


def _of(resources: Iterable[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if r.get("kind") == kind]


def _pod_templates(resources: Iterable[Resource]) -> list[tuple[str, Resource]]:
    found = []
    for resource in resources:
        template = (resource.get("spec") or {}).get("template")
        if isinstance(template, dict) and "spec" in template:
            found.append((describe(resource), template))
    return found


def _annotations(template: Resource) -> dict[str, str]:
    annotations: dict[str, str] = (template.get("metadata") or {}).get("annotations") or {}
    return annotations


# Dapr app-ids and scopes ------------------------------------------------------------------


# The sidecar delivers to the app's own port, or to queue-proxy's in front of it (the event
# consumers, so that Knative's autoscaler counts their deliveries).
APP_PORTS = ("8080", "8012")


def app_ids(resources: list[Resource]) -> list[str]:
    """Every Knative Service runs a Dapr sidecar whose app-id is the service's name, and
    every pod with a sidecar carries the label the network policies select it by."""
    problems = []
    for name, service in knative_services(resources).items():
        annotations = _annotations(service["spec"]["template"])
        if annotations.get("dapr.io/enabled") != "true":
            problems.append(f"Knative Service {name}: no Dapr sidecar (dapr.io/enabled)")
        elif annotations.get("dapr.io/app-id") != name:
            problems.append(f"Knative Service {name}: dapr.io/app-id is not {name}")
        if annotations.get("dapr.io/app-port") not in APP_PORTS:
            problems.append(
                f"Knative Service {name}: dapr.io/app-port is neither the app's 8080 nor "
                "queue-proxy's 8012 in front of it"
            )
        if annotations.get("dapr.io/metrics-port") in ("9090", "9091", None):
            problems.append(
                f"Knative Service {name}: dapr.io/metrics-port collides with queue-proxy"
            )
    for where, template in _pod_templates(resources):
        dapr = _annotations(template).get("dapr.io/enabled") == "true"
        labelled = (template.get("metadata") or {}).get("labels", {}).get("todo/dapr-sidecar")
        if dapr != (labelled == "true"):
            problems.append(f"{where}: label todo/dapr-sidecar must say whether Dapr is enabled")
    return problems


def dapr_scopes(resources: list[Resource]) -> list[str]:
    """Scopes name existing apps; subscriptions name pub/sub components their app loads;
    components that take secrets from a store are scoped within that store's scopes."""
    problems = []
    ids = set(knative_services(resources))
    components = {c["metadata"]["name"]: c for c in _of(resources, "Component")}
    for resource in _of(resources, "Component") + _of(resources, "Subscription"):
        for app in resource.get("scopes", []):
            if app not in ids:
                problems.append(f"{describe(resource)}: scope {app} is no Knative Service")
    for component in components.values():
        store = (component.get("auth") or {}).get("secretStore")
        if store is None:
            continue
        target = components.get(store)
        if target is None or not target["spec"]["type"].startswith("secretstores."):
            problems.append(f"{describe(component)}: no secret store {store}")
            continue
        outside = set(component.get("scopes", ids)) - set(target.get("scopes", ids))
        if outside:
            problems.append(f"{describe(component)}: {sorted(outside)} cannot read store {store}")
    for subscription in _of(resources, "Subscription"):
        pubsub = components.get(subscription["spec"]["pubsubname"])
        if pubsub is None or not pubsub["spec"]["type"].startswith("pubsub."):
            problems.append(f"{describe(subscription)}: no pub/sub component")
            continue
        loaded_by = set(pubsub.get("scopes", ids))
        for app in subscription.get("scopes", []):
            if app not in loaded_by:
                problems.append(f"{describe(subscription)}: {app} does not load {describe(pubsub)}")
    return problems


# Event delivery and topics ----------------------------------------------------------------


def _declared_subscriptions() -> list[tuple[str, str, str]]:
    """(topic, app, route) from dapr/subscriptions.yaml, as `todo dev` also reads it."""
    found = []
    for subscription in load_documents(SUBSCRIPTIONS):
        spec = subscription["spec"]
        for app in subscription.get("scopes", []):
            found.append((spec["topic"], app, spec["routes"]["default"]))
    return found


def deliveries(resources: list[Resource]) -> list[str]:
    """Every subscription in dapr/subscriptions.yaml is delivered, by exactly one mechanism:
    a Dapr Subscription or a KafkaSource to the same app and route."""
    delivered: dict[tuple[str, str, str], list[str]] = {}
    services = knative_services(resources)
    problems = []
    for subscription in _of(resources, "Subscription"):
        spec = subscription["spec"]
        for app in subscription.get("scopes", []):
            key = (spec["topic"], app, spec["routes"]["default"])
            delivered.setdefault(key, []).append(describe(subscription))
    for source in _of(resources, "KafkaSource"):
        sink = source["spec"]["sink"]
        app = sink.get("ref", {}).get("name", "")
        if app not in services:
            problems.append(f"{describe(source)}: sink {app} is no Knative Service")
        for topic in source["spec"]["topics"]:
            key = (topic, app, sink.get("uri", "/"))
            delivered.setdefault(key, []).append(describe(source))
    for key in _declared_subscriptions():
        ways = delivered.get(key, [])
        if len(ways) != 1:
            topic, app, route = key
            problems.append(f"{topic} to {app} {route}: delivered by {ways or 'nothing'}")
    return problems


# Knative Eventing's OIDC service account for a source (knative/eventing pkg/auth/
# serviceaccount.go, GetOIDCServiceAccountNameForResource): kmeta.ChildName of the source's
# name and "-oidc-<group>-<Kind>", lower-cased afterwards.
_OIDC_SUFFIX = "-oidc-sources.knative.dev-KafkaSource"
_NAME_MAX = 63
_MD5_HEX = 32


def child_name(parent: str, suffix: str) -> str:
    """knative.dev/pkg kmeta.ChildName: parent + suffix, or, past 63 characters, a hash in
    place of what does not fit."""
    if len(parent) <= _NAME_MAX - len(suffix):
        return parent + suffix
    head = _NAME_MAX - _MD5_HEX
    if head - len(suffix) <= 0:
        name = parent[:head] + hashlib.md5((parent + suffix).encode()).hexdigest()
        name += suffix[: max(0, _NAME_MAX - len(name))]
        return re.sub(r"[^a-zA-Z0-9]+$", "", name)  # its makeValidName
    digest = hashlib.md5(parent.encode()).hexdigest()
    return f"{parent[: head - len(suffix)]}{digest}{suffix}"


def source_subject(source: Resource) -> str:
    """The subject of the tokens a KafkaSource sends with Eventing's sender identity on."""
    meta = source["metadata"]
    account = child_name(meta["name"], _OIDC_SUFFIX).lower()
    return f"system:serviceaccount:{meta.get('namespace', 'default')}:{account}"


def _env(service: Resource) -> dict[str, str]:
    containers = service["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in containers[0].get("env", []) if "value" in e}


def event_senders(resources: list[Resource]) -> list[str]:
    """Each Knative Service a KafkaSource delivers to (sink or dead-letter sink) takes exactly
    the tokens of the sources that do: each destination names an audience (without one no
    token is sent), the service's EVENT_AUDIENCE, and its EVENT_SENDERS are their subjects."""
    services = knative_services(resources)
    expected: dict[str, set[str]] = {}
    problems = []
    for source in _of(resources, "KafkaSource"):
        spec = source["spec"]
        for destination in (spec["sink"], spec.get("delivery", {}).get("deadLetterSink")):
            if destination is None:
                continue
            app = destination.get("ref", {}).get("name", "")
            expected.setdefault(app, set()).add(source_subject(source))
            audience = _env(services[app]).get("EVENT_AUDIENCE") if app in services else None
            if destination.get("audience") is None:
                problems.append(f"{describe(source)}: sends to {app} with no audience, so no token")
            elif destination["audience"] != audience:
                problems.append(
                    f"{describe(source)}: audience {destination['audience']} is not {app}'s "
                    f"EVENT_AUDIENCE ({audience})"
                )
    for name, service in services.items():
        env = _env(service)
        senders = {s.strip() for s in env.get("EVENT_SENDERS", "").split(",") if s.strip()}
        if senders != expected.get(name, set()):
            problems.append(
                f"{name}: EVENT_SENDERS {sorted(senders)} but the sources delivering to it "
                f"are {sorted(expected.get(name, set()))}"
            )
        if name in expected and "EVENT_AUDIENCE" not in env:
            problems.append(f"{name}: KafkaSources deliver to it but it sets no EVENT_AUDIENCE")
    return problems


def published_topics() -> set[str]:
    from todo import events

    return {t for topic in events.TOPICS.values() for t in (topic, events.dead_letter_topic(topic))}


def external_topics(path: Path | None = None) -> dict[str, str]:
    listed: dict[str, str] = yaml.safe_load((path or EXTERNAL_TOPICS).read_text())["external"]
    return listed


def topics(resources: list[Resource]) -> list[str]:
    """Every topic the code publishes (and its dead-letter topic) has a consumer here or is
    listed as external; every topic consumed is one the code publishes."""
    consumed = {topic for topic, _, _ in _declared_subscriptions()}
    for source in _of(resources, "KafkaSource"):
        consumed.update(source["spec"]["topics"])
    published = published_topics()
    external = external_topics()
    problems = [
        f"topic {t} is published but neither consumed nor listed in {EXTERNAL_TOPICS.name}"
        for t in sorted(published - consumed - set(external))
    ]
    problems += [f"topic {t} is consumed but never published" for t in sorted(consumed - published)]
    problems += [
        f"{EXTERNAL_TOPICS.name}: {t} is not published, or has a consumer here"
        for t in sorted(set(external) - (published - consumed))
    ]
    return problems


# Secrets and settings ---------------------------------------------------------------------


def secret_keys(resources: list[Resource], example: Path = secrets.EXAMPLE_ENV) -> list[str]:
    """Every Secret key a manifest reads is in the table, whose variables are all in
    secrets.example.env."""
    problems = secrets.unknown_references(resources)
    documented = secrets.read_env_file(example)
    for name, keys in secrets.SECRETS.items():
        for variable in keys.values():
            if variable not in documented:
                problems.append(f"Secret {name} reads {variable}, missing from {example.name}")
    return problems


def settings_names(resources: list[Resource]) -> list[str]:
    """The variables our containers get are todo/settings.py fields (upper-cased)."""
    from todo.settings import Settings

    known = {f.name.upper() for f in dataclasses.fields(Settings)} | FRAMEWORK_ENV
    config_maps = {c["metadata"]["name"]: c for c in _of(resources, "ConfigMap")}
    problems = []
    for where, template in _pod_templates(resources):
        for container in template["spec"].get("containers", []):
            if not str(container.get("image", "")).split("@")[0].rsplit(":", 1)[0].endswith(IMAGE):
                continue
            names = [e["name"] for e in container.get("env", [])]
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef", {}).get("name")
                if ref is not None:
                    if ref not in config_maps:
                        problems.append(f"{where}: no ConfigMap {ref}")
                        continue
                    names += list(config_maps[ref].get("data", {}))
            problems += [f"{where}: {n} is not a setting" for n in names if n not in known]
    return problems


# Metrics ----------------------------------------------------------------------------------

_INSTRUMENT_MODULES = ("todo.metrics", "realtime.metrics", "realtime.app")


def exported_metrics() -> set[str]:
    """The metric names the code exports, suffixes included, read from the registry."""
    from prometheus_client import REGISTRY

    for name in _INSTRUMENT_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        instruments = getattr(module, "instruments", None)
        if callable(instruments):
            instruments()
    names: set[str] = set()
    for family in REGISTRY.collect():
        for suffix in _SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
        names.update(sample.name for sample in family.samples)
    return names


def queries(resources: Iterable[Resource], dashboard: Path) -> list[tuple[str, str]]:
    """(where, PromQL) for every alert and every dashboard panel query."""
    found = []
    for rule in _of(resources, "PrometheusRule"):
        for group in rule["spec"]["groups"]:
            for item in group["rules"]:
                found.append((f"alert {item.get('alert', item.get('record'))}", item["expr"]))
    for panel in json.loads(dashboard.read_text())["panels"]:
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r}", target["expr"]))
    return found


def metric_names(items: list[tuple[str, str]], exported: set[str]) -> list[str]:
    problems = []
    recorded = {where.removeprefix("alert ") for where, _ in items if where.startswith("alert ")}
    for where, expr in items:
        named = set(_METRIC.findall(expr))
        records = set(_RECORDING.findall(expr))
        known = _KNATIVE_METRIC.search(expr) or _SCRAPE_METRIC.search(expr)
        if not named and not records and not known:
            problems.append(f"{where}: names none of the functions' or Knative's metrics")
        problems += [f"{where}: {n} is not exported by the code" for n in sorted(named - exported)]
        problems += [f"{where}: {r} is recorded by no rule" for r in sorted(records - recorded)]
    return problems


def all_problems(resources: list[Resource]) -> dict[str, list[str]]:
    return {
        "app-ids": app_ids(resources),
        "dapr scopes": dapr_scopes(resources),
        "deliveries": deliveries(resources),
        "topics": topics(resources),
        "secrets": secret_keys(resources),
        "settings": settings_names(resources),
        "event senders": event_senders(resources),
    }
