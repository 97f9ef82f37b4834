"""The cluster's manifests, read for a machine without Kubernetes.

The stack renders the same overlay the cluster applies (`knative/overlays/local` for Redis,
`knative/overlays/oracle` for Kafka) and takes from it the Dapr resources, the sidecar
Configuration and, from each Knative Service, the container's command, environment and Dapr
annotations. Self-hosted mode needs these differences, and only these (tests/platform checks
that nothing else changes):

1. Secrets: the `secretstores.kubernetes` store becomes a `secretstores.local.file` store of
   the same name, reading a JSON file the stack writes (no Kubernetes API here).
2. Addresses: a cluster service name (`redis.todo.svc.cluster.local:6379`) becomes the
   loopback address where the stack runs that service.
3. The sidecar Configuration names the sqlite name resolver, so no sidecar sends mDNS.
4. For the tests only, when asked: a shorter cron schedule and shorter Redis redelivery timers.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from deploy.manifests import Resource
from deploy.render import render

ROOT = Path(__file__).resolve().parent.parent
OVERLAYS = {"redis": ROOT / "knative/overlays/local", "kafka": ROOT / "knative/overlays/oracle"}
DAPR_KINDS = ("Component", "Subscription", "Resiliency")
CLUSTER_ADDRESS = re.compile(r"\b([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)\b")
REDIS_TIMERS = ("processingTimeout", "redeliverInterval")


@dataclass(frozen=True)
class Shortcuts:
    """What a test may shorten, and nothing else: the cron schedule and Redis' redelivery."""

    schedule: str | None = None
    redis_timers: str | None = None


AS_DEPLOYED = Shortcuts()


@dataclass(frozen=True)
class AppSpec:
    """One Knative Service as a process would run it: its container and its sidecar."""

    app_id: str
    command: list[str] | None
    env: dict[str, str]
    secret_env: dict[str, tuple[str, str]]
    config_maps: list[str]
    annotations: dict[str, str]
    # What a pod of the Service shows Kubernetes' service discovery (stack/prometheus.py).
    service: str
    container: str
    port: int  # the container's one port, which queue-proxy sends to
    labels: dict[str, str]


@dataclass(frozen=True)
class Manifests:
    """An overlay rendered, split into what the stack needs."""

    dapr: list[Resource]
    configurations: dict[str, Resource]
    config_maps: dict[str, dict[str, str]]
    apps: list[AppSpec] = field(default_factory=list)
    # The arguments of each Deployment's container (the local overlay's Redis), by name.
    deployment_args: dict[str, list[str]] = field(default_factory=dict)


def load(broker: str) -> Manifests:
    """Render the overlay the cluster uses with `broker` and split it."""
    return split(render(OVERLAYS[broker]))


def split(resources: Iterable[Resource]) -> Manifests:
    manifests = Manifests([], {}, {})
    for resource in resources:
        kind, name = resource["kind"], resource["metadata"]["name"]
        if resource["apiVersion"].startswith("dapr.io/") and kind in DAPR_KINDS:
            manifests.dapr.append(resource)
        elif kind == "Configuration" and resource["apiVersion"].startswith("dapr.io/"):
            manifests.configurations[name] = resource
        elif kind == "ConfigMap":
            manifests.config_maps[name] = dict(resource.get("data", {}))
        elif kind == "Service" and resource["apiVersion"].startswith("serving.knative.dev/"):
            manifests.apps.append(app_spec(resource))
        elif kind == "Deployment":
            (container,) = resource["spec"]["template"]["spec"]["containers"]
            manifests.deployment_args[name] = [str(a) for a in container.get("args", [])]
    return manifests


def app_spec(service: Resource) -> AppSpec:
    template = service["spec"]["template"]
    (container,) = template["spec"]["containers"]
    env: dict[str, str] = {}
    secret_env: dict[str, tuple[str, str]] = {}
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = str(variable["value"])
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            secret_env[variable["name"]] = (ref["name"], ref["key"])
    annotations = template["metadata"].get("annotations", {})
    return AppSpec(
        app_id=annotations["dapr.io/app-id"],
        command=container.get("command"),
        env=env,
        secret_env=secret_env,
        config_maps=[source["configMapRef"]["name"] for source in container.get("envFrom", [])],
        annotations={k: str(v) for k, v in annotations.items() if k.startswith("dapr.io/")},
        service=service["metadata"]["name"],
        container=container["name"],
        port=int(container["ports"][0]["containerPort"]),
        labels={k: str(v) for k, v in template["metadata"].get("labels", {}).items()},
    )


def dapr_resources(
    resources: Iterable[Resource],
    secrets_file: Path,
    addresses: Mapping[str, str],
    shortcuts: Shortcuts = AS_DEPLOYED,
) -> list[Resource]:
    """The Dapr resources with differences 1, 2 and 4 applied."""
    return [_self_hosted(r, secrets_file, addresses, shortcuts) for r in resources]


def _self_hosted(
    resource: Resource, secrets_file: Path, addresses: Mapping[str, str], shortcuts: Shortcuts
) -> Resource:
    resource = copy.deepcopy(resource)
    spec = resource.get("spec", {})
    if resource["kind"] != "Component":
        return resource
    if spec["type"] == "secretstores.kubernetes":
        spec["type"] = "secretstores.local.file"
        spec["metadata"] = [
            {"name": "secretsFile", "value": str(secrets_file)},
            {"name": "multiValued", "value": "true"},
        ]
    for item in spec.get("metadata", []):
        if "value" in item:
            item["value"] = _loopback(str(item["value"]), addresses)
        if spec["type"] == "bindings.cron" and item["name"] == "schedule" and shortcuts.schedule:
            item["value"] = shortcuts.schedule
        if (
            spec["type"] == "pubsub.redis"
            and item["name"] in REDIS_TIMERS
            and shortcuts.redis_timers
        ):
            item["value"] = shortcuts.redis_timers
    return resource


def _loopback(value: str, addresses: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) not in addresses:
            raise ValueError(f"no local address for the cluster service {match.group(0)}")
        return addresses[match.group(0)]

    return CLUSTER_ADDRESS.sub(replace, value)


def configuration(resource: Resource, name_resolution_db: Path) -> Resource:
    """The sidecar Configuration with difference 3 applied."""
    resource = copy.deepcopy(resource)
    resource["spec"]["nameResolution"] = {
        "component": "sqlite",
        "configuration": {"connectionString": str(name_resolution_db)},
    }
    return resource


def write_secrets(path: Path, secrets: Mapping[str, Mapping[str, str]]) -> None:
    """The local file secret store's file: {secret name: {key: value}}, like Kubernetes'."""
    path.write_text(json.dumps(secrets, indent=2))
    path.chmod(0o600)


def write_resources(directory: Path, resources: Iterable[Resource]) -> None:
    """One file per resource; they keep their namespace, which daprd matches against its
    NAMESPACE variable as the injector sets it."""
    directory.mkdir(parents=True, exist_ok=True)
    for resource in resources:
        name = f"{resource['kind'].lower()}-{resource['metadata']['name']}.yaml"
        (directory / name).write_text(yaml.safe_dump(resource, sort_keys=False))


def write_configuration(path: Path, resource: Resource) -> None:
    path.write_text(yaml.safe_dump(resource, sort_keys=False))
