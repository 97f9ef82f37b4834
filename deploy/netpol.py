"""Which connections the rendered NetworkPolicies admit, evaluated as Kubernetes does.

Ingress only, as ours are: a pod that no Ingress policy selects takes every connection; one
that some policy selects takes those that one of its selecting policies' rules admits. Peers
are pods (`podSelector`, `namespaceSelector` or both); `ipBlock` peers match no pod.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deploy.manifests import Resource


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def namespace_labels(self) -> dict[str, str]:
        # What Kubernetes sets on every namespace; the policies select namespaces by it.
        return {"kubernetes.io/metadata.name": self.namespace}


def matches(selector: Resource, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions) selects these labels."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        present = key in labels
        admitted = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]
        if not admitted:
            return False
    return True


def _peer_matches(peer: Resource, policy_namespace: str, source: Pod) -> bool:
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        if not matches(peer["namespaceSelector"], source.namespace_labels):
            return False
    elif source.namespace != policy_namespace:
        return False
    return matches(peer.get("podSelector") or {}, source.labels)


def _rule_admits(rule: Resource, namespace: str, source: Pod, port: int) -> bool:
    peers = rule.get("from")
    ports = rule.get("ports")
    if peers and not any(_peer_matches(p, namespace, source) for p in peers):
        return False
    return not ports or any(p.get("port") in (None, port) for p in ports)


def _selecting(policies: list[Resource], target: Pod) -> list[Resource]:
    return [
        p
        for p in policies
        if p.get("kind") == "NetworkPolicy"
        and p["metadata"].get("namespace") == target.namespace
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and matches(p["spec"].get("podSelector") or {}, target.labels)
    ]


def admits(resources: list[Resource], source: Pod, target: Pod, port: int) -> bool:
    """Whether `source` may open a connection to `target` on `port`."""
    selecting = _selecting(resources, target)
    if not selecting:
        return True
    return any(
        _rule_admits(rule, target.namespace, source, port)
        for policy in selecting
        for rule in policy["spec"].get("ingress") or []
    )
