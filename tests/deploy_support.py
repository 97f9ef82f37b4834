"""Shared helpers for the tests of deploy/: the overlays rendered once per run."""

from __future__ import annotations

import copy
import functools

from deploy import KNATIVE, OVERLAYS, overlay_names
from deploy.manifests import Resource
from deploy.render import render

OVERLAYS_ALL = overlay_names()


@functools.cache
def _rendered(path: str) -> tuple[Resource, ...]:
    return tuple(render(KNATIVE / path))


def rendered(overlay: str) -> list[Resource]:
    """A fresh copy of an overlay's manifests, safe to change in a test."""
    return copy.deepcopy(list(_rendered(str((OVERLAYS / overlay).relative_to(KNATIVE)))))


def monitoring() -> list[Resource]:
    return copy.deepcopy(list(_rendered("monitoring")))


def find(resources: list[Resource], kind: str, name: str) -> Resource:
    for resource in resources:
        if resource.get("kind") == kind and resource["metadata"]["name"] == name:
            return resource
    raise LookupError(f"no {kind} {name}")


def knative_service(resources: list[Resource], name: str) -> Resource:
    for resource in resources:
        if (
            resource.get("kind") == "Service"
            and str(resource.get("apiVersion")).startswith("serving.knative.dev")
            and resource["metadata"]["name"] == name
        ):
            return resource
    raise LookupError(f"no Knative Service {name}")


def template_annotations(service: Resource) -> dict[str, str]:
    found: dict[str, str] = service["spec"]["template"]["metadata"]["annotations"]
    return found
