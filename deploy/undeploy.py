"""What `task undeploy` removes from the cluster, and what it leaves.

It removes the app: every resource an overlay puts in the app's namespace. It leaves what
the docs promise stays: the namespace itself (and with it the Secrets `task secrets` made,
which no manifest holds), every PersistentVolumeClaim (the data), and everything outside the
namespace, which is shared with the rest of the cluster: the Traefik settings in kube-system,
the cluster-wide ClusterIssuers and, in the KafkaSource variant, the ClusterRole that lets
the functions review tokens, with its binding. `task purge` removes all of it.
"""

from __future__ import annotations

from deploy.manifests import Resource

NAMESPACE = "todo"
KEPT_KINDS = frozenset({"Namespace", "PersistentVolumeClaim", "Secret"})


def removable(resources: list[Resource], namespace: str = NAMESPACE) -> list[Resource]:
    return [r for r in resources if _is_app(r, namespace)]


def kept(resources: list[Resource], namespace: str = NAMESPACE) -> list[Resource]:
    return [r for r in resources if not _is_app(r, namespace)]


def _is_app(resource: Resource, namespace: str) -> bool:
    in_namespace = (resource.get("metadata") or {}).get("namespace") == namespace
    return in_namespace and resource.get("kind") not in KEPT_KINDS
