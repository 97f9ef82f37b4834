"""The platform tests run the cluster's own Dapr resources: self-hosted mode changes only
what stack/selfhosted.py lists, and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stack import selfhosted
from stack.selfhosted import AS_DEPLOYED, Shortcuts

SECRETS = Path("/run/stack/secrets.json")
REDIS = {"redis.todo.svc.cluster.local:6379": "127.0.0.1:6379"}


def differences(before: Any, after: Any, path: str = "") -> set[str]:
    """The paths (a.b[name]) where two documents differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: set[str] = set()
        for key in before.keys() | after.keys():
            found |= differences(before.get(key), after.get(key), f"{path}.{key}")
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = set()
        for n, (b, a) in enumerate(zip(before, after, strict=True)):
            label = b.get("name", n) if isinstance(b, dict) else n
            found |= differences(b, a, f"{path}[{label}]")
        return found
    return set() if before == after else {path}


def changed(broker: str, shortcuts: Shortcuts) -> dict[str, set[str]]:
    manifests = selfhosted.load(broker)
    after = selfhosted.dapr_resources(manifests.dapr, SECRETS, REDIS, shortcuts)
    return {
        f"{b['kind']}/{b['metadata']['name']}": diff
        for b, a in zip(manifests.dapr, after, strict=True)
        if (diff := differences(b, a))
    }


def test_redis_changes_only_the_secret_store_and_the_broker_address() -> None:
    assert changed("redis", AS_DEPLOYED) == {
        "Component/secretstore": {".spec.type", ".spec.metadata"},
        "Component/pubsub": {".spec.metadata[redisHost].value"},
        "Component/realtime-pubsub": {".spec.metadata[redisHost].value"},
    }


def test_kafka_changes_only_the_secret_store() -> None:
    """The brokers come from the secret, as in the cloud: the component stays as deployed."""
    assert changed("kafka", AS_DEPLOYED) == {
        "Component/secretstore": {".spec.type", ".spec.metadata"},
    }


def test_the_tests_may_shorten_the_schedule_and_redis_redelivery_only() -> None:
    shortened = changed("redis", Shortcuts(schedule="@every 1s", redis_timers="5s"))
    assert shortened["Component/tick"] == {".spec.metadata[schedule].value"}
    assert shortened["Component/pubsub"] == {
        ".spec.metadata[redisHost].value",
        ".spec.metadata[processingTimeout].value",
        ".spec.metadata[redeliverInterval].value",
    }


def test_the_sidecar_configuration_resolves_names_without_mdns() -> None:
    manifests = selfhosted.load("redis")
    (deployed,) = manifests.configurations.values()
    local = selfhosted.configuration(deployed, Path("/run/stack/nr.db"))
    assert differences(deployed, local) == {".spec.nameResolution"}
    assert local["spec"]["nameResolution"]["component"] == "sqlite"


def test_a_cluster_service_the_stack_does_not_run_is_refused() -> None:
    manifests = selfhosted.load("redis")
    with pytest.raises(ValueError, match=r"redis\.todo\.svc\.cluster\.local:6379"):
        selfhosted.dapr_resources(manifests.dapr, SECRETS, {}, AS_DEPLOYED)
