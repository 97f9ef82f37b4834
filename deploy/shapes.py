"""Minimal shapes for the custom resources that have no upstream schema in k8s-schemas.

These are ours, not the upstream CRDs: they list the fields this repository uses (and a
few neighbours), reject anything else, and check the types. They catch typos and
misplaced fields; they cannot catch what the real CRD would additionally refuse. The
validation report names every resource checked this way.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import yaml

from deploy.manifests import Resource

_STRING = {"type": "string"}
_STRING_MAP = {"type": "object", "additionalProperties": _STRING}
_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": _STRING_MAP,
        "matchExpressions": {"type": "array", "items": {"type": "object"}},
    },
}


def _resource(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": _STRING,
            "kind": {"const": kind},
            "metadata": {"type": "object"},
            "spec": spec,
        },
    }


_ENDPOINT = {
    "type": "object",
    "additionalProperties": False,
    "anyOf": [{"required": ["port"]}, {"required": ["portNumber"]}],
    "properties": {
        "port": _STRING,
        "portNumber": {"type": "integer"},
        "path": _STRING,
        "scheme": {"enum": ["http", "https"]},
        "interval": {"type": "string", "pattern": r"^\d+(ms|s|m|h)$"},
        "scrapeTimeout": {"type": "string", "pattern": r"^\d+(ms|s|m|h)$"},
        "honorLabels": {"type": "boolean"},
        "relabelings": {"type": "array"},
        "metricRelabelings": {"type": "array"},
    },
}
_RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["expr"],
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "properties": {
        "alert": _STRING,
        "record": _STRING,
        "expr": {"type": "string", "minLength": 1},
        "for": {"type": "string", "pattern": r"^\d+(ms|s|m|h|d)$"},
        "keep_firing_for": {"type": "string"},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
    },
}
SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("monitoring.coreos.com", "PodMonitor"): _resource(
        "PodMonitor",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "podMetricsEndpoints"],
            "properties": {
                "selector": _SELECTOR,
                "namespaceSelector": {"type": "object"},
                "podMetricsEndpoints": {"type": "array", "minItems": 1, "items": _ENDPOINT},
                "jobLabel": _STRING,
                "podTargetLabels": {"type": "array", "items": _STRING},
            },
        },
    ),
    ("monitoring.coreos.com", "PrometheusRule"): _resource(
        "PrometheusRule",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["groups"],
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "rules"],
                        "properties": {
                            "name": _STRING,
                            "interval": _STRING,
                            "rules": {"type": "array", "minItems": 1, "items": _RULE},
                        },
                    },
                }
            },
        },
    ),
    ("helm.cattle.io", "HelmChartConfig"): _resource(
        "HelmChartConfig",
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "valuesContent": _STRING,
                "failurePolicy": {"enum": ["abort", "reinstall"]},
            },
        },
    ),
}
SHAPES = {group for group, _ in SCHEMAS}


def problems(resource: Resource) -> list[str]:
    group = str(resource.get("apiVersion", "")).rpartition("/")[0]
    schema = SCHEMAS.get((group, str(resource.get("kind"))))
    if schema is None:
        return [f"no shape for {group} {resource.get('kind')}"]
    found = [
        f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in jsonschema.Draft202012Validator(schema).iter_errors(resource)
    ]
    values = (resource.get("spec") or {}).get("valuesContent")
    if isinstance(values, str) and not isinstance(yaml.safe_load(values), dict):
        found.append("spec.valuesContent: not a YAML mapping")
    return found
