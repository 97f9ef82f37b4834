"""Offline schema validation of rendered manifests, with unknown fields rejected.

- Kubernetes' own kinds: `kubernetes-validate`, strict, against Kubernetes 1.31.
- Custom resources with an upstream CRD schema in the k8s-schemas folder (Knative, Dapr,
  Traefik, cert-manager): jsonschema against that schema, made strict as its SOURCES.md
  describes (`additionalProperties: false` on every object that lists properties and does
  not preserve unknown fields) and applied at the root too, where a typo such as `scope:`
  for `scopes:` would otherwise be pruned by the API server without a word. Their
  `metadata` is checked against Kubernetes' ObjectMeta.
- Custom resources with no schema available (Prometheus Operator, k3s' HelmChartConfig):
  a minimal shape of our own (deploy/shapes.py), said as much in every report.

The schema folder is `$K8S_SCHEMAS_DIR`, else ../shared/k8s-schemas next to the repository.
Where it is absent, custom resources are reported as skipped, not passed.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import referencing
import referencing.jsonschema
from kubernetes_validate.utils import SchemaNotFoundError

from deploy import ROOT, shapes
from deploy.manifests import Resource, describe

KUBERNETES_VERSION = "1.31"
SCHEMAS_ENV = "K8S_SCHEMAS_DIR"
# API groups served by Kubernetes itself ("" is the core group).
_CORE_GROUPS = {"", "apps", "batch", "policy", "autoscaling"}


def schemas_dir() -> Path | None:
    configured = os.environ.get(SCHEMAS_ENV)
    path = Path(configured) if configured else ROOT.parent / "shared" / "k8s-schemas"
    return path if path.is_dir() else None


@dataclass
class Report:
    checked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    shape_only: list[str] = field(default_factory=list)

    def extend(self, other: Report) -> None:
        self.checked += other.checked
        self.errors += other.errors
        self.skipped += other.skipped
        self.shape_only += other.shape_only


def group_version(resource: Resource) -> tuple[str, str]:
    api_version = str(resource.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    return group, version


def is_core(resource: Resource) -> bool:
    group, _ = group_version(resource)
    return group in _CORE_GROUPS or group.endswith(".k8s.io")


def validate(resources: list[Resource], schema_root: Path | None) -> Report:
    report = Report()
    for resource in resources:
        name = describe(resource)
        group, version = group_version(resource)
        kind = str(resource.get("kind"))
        if is_core(resource):
            problems = _core_problems(resource)
        elif group in shapes.SHAPES:
            problems = shapes.problems(resource) + _metadata_problems(resource)
            report.shape_only.append(name)
        elif schema_root is None:
            report.skipped.append(f"{name}: no CRD schema folder (set {SCHEMAS_ENV})")
            continue
        else:
            schema = schema_root / group / f"{kind.lower()}_{version}.json"
            if not schema.is_file():
                report.errors.append(f"{name}: no schema for {group}/{version} {kind}")
                continue
            problems = _crd_problems(schema, resource) + _metadata_problems(resource)
        report.checked.append(name)
        report.errors += [f"{name}: {problem}" for problem in problems]
    return report


def _where(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(root)"


def _core_problems(resource: Resource) -> list[str]:
    try:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except SchemaNotFoundError:
        return [f"Kubernetes {KUBERNETES_VERSION} has no {resource.get('apiVersion')} kind"]
    except jsonschema.ValidationError as exc:
        return [f"{_where(exc)}: {exc.message}"]
    return []


def strict(schema: Any) -> Any:
    """A copy of a CRD schema that rejects fields it does not list."""
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for key in ("properties", "patternProperties", "definitions", "$defs"):
            for child in node.get(key, {}).values():
                walk(child)
        for key in ("items", "additionalProperties", "not"):
            walk(node.get(key))
        for key in ("allOf", "anyOf", "oneOf"):
            walk(node.get(key, []))

    walk(schema)
    return schema


@functools.cache
def _crd_validator(path: Path) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(strict(json.loads(path.read_text())))


def _crd_problems(path: Path, resource: Resource) -> list[str]:
    validator = _crd_validator(path)
    return [f"{_where(e)}: {e.message}" for e in validator.iter_errors(resource)]


@functools.cache
def _object_meta_validator() -> jsonschema.Draft202012Validator:
    definitions = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    folder = definitions / f"v{KUBERNETES_VERSION}.0-local-strict"
    contents = json.loads((folder / "_definitions.json").read_text())
    resource = referencing.Resource.from_contents(contents)
    registry: referencing.Registry[Any] = resource @ referencing.Registry()
    ref = f"{contents['$id']}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    return jsonschema.Draft202012Validator({"$ref": ref}, registry=registry)


def _metadata_problems(resource: Resource) -> list[str]:
    metadata = resource.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        return ["metadata.name is missing"]
    validator = _object_meta_validator()
    return [f"metadata.{_where(e)}: {e.message}" for e in validator.iter_errors(metadata)]
