"""Every manifest validates offline, strictly; broken ones are rejected.

Core kinds against Kubernetes 1.31 (kubernetes-validate, strict); custom resources against
the upstream CRD schemas in the k8s-schemas folder (K8S_SCHEMAS_DIR, default
../shared/k8s-schemas), with unknown fields rejected. Where that folder is absent, the tests
that need it skip, saying so, and the core-kind tests still run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy import DAPR, validate
from deploy.manifests import Resource, load_documents
from tests.deploy_support import OVERLAYS_ALL, find, knative_service, monitoring, rendered

SCHEMAS = validate.schemas_dir()
needs_schemas = pytest.mark.skipif(
    SCHEMAS is None,
    reason=f"no CRD schema folder (set {validate.SCHEMAS_ENV}); custom resources NOT validated",
)


def errors(resources: list[Resource]) -> list[str]:
    return validate.validate(resources, SCHEMAS).errors


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_core_kinds_validate_strictly_against_kubernetes_1_31(overlay: str) -> None:
    core = [r for r in rendered(overlay) if validate.is_core(r)]
    assert {"Namespace", "NetworkPolicy", "Job", "ConfigMap"} <= {r["kind"] for r in core}
    report = validate.validate(core, None)
    assert report.errors == []
    assert len(report.checked) == len(core)


@needs_schemas
@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_custom_resources_validate_against_the_upstream_schemas(overlay: str) -> None:
    report = validate.validate(rendered(overlay), SCHEMAS)
    assert report.errors == []
    assert report.skipped == []
    kinds = {name.split("/")[0] for name in report.checked}
    assert {"Service", "Component", "Subscription", "IngressRoute", "Middleware"} <= kinds


@needs_schemas
def test_monitoring_and_the_dapr_control_plane_configuration_validate() -> None:
    extra = load_documents(DAPR / "kubernetes" / "daprsystem.yaml")
    report = validate.validate(monitoring() + extra, SCHEMAS)
    assert report.errors == []
    # The Prometheus Operator's kinds have no schema here: only our minimal shape checks them.
    assert sorted(report.shape_only) == [
        "PodMonitor/knative-serving/knative-activator",
        "PodMonitor/todo/todo-functions",
        "PrometheusRule/todo/todo",
    ]


def test_without_the_schema_folder_only_custom_resources_are_skipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(validate.SCHEMAS_ENV, str(tmp_path / "absent"))
    assert validate.schemas_dir() is None
    resources = rendered("oracle")
    find(resources, "NetworkPolicy", "default-deny-ingress")["spec"]["podSelectr"] = {}
    report = validate.validate(resources, validate.schemas_dir())
    assert any("Service/todo/auth" in s for s in report.skipped)
    assert report.errors == [
        "NetworkPolicy/todo/default-deny-ingress: spec: Additional properties are not allowed "
        "('podSelectr' was unexpected)"
    ]


def test_a_core_kind_with_a_wrong_type_is_rejected() -> None:
    resources = rendered("local")
    find(resources, "Deployment", "postgres")["spec"]["replicas"] = "one"
    assert any("spec.replicas" in e for e in errors(resources))


@needs_schemas
def test_an_unknown_field_in_a_knative_service_is_rejected() -> None:
    resources = rendered("oracle")
    container = knative_service(resources, "auth")["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    assert errors(resources) == [
        "Service/todo/auth: spec.template.spec.containers.0: Additional properties are not "
        "allowed ('readinesProbe' was unexpected)"
    ]


@needs_schemas
def test_a_typo_at_the_root_of_a_dapr_component_is_rejected() -> None:
    resources = rendered("oracle")
    tick = find(resources, "Component", "tick")
    tick["scope"] = tick.pop("scopes")
    assert errors(resources) == [
        "Component/todo/tick: (root): Additional properties are not allowed "
        "('scope' was unexpected)"
    ]


@needs_schemas
def test_a_missing_required_field_and_bad_metadata_are_rejected() -> None:
    resources = rendered("oracle-kafkasource")
    del find(resources, "KafkaSource", "notify-reminder-events")["spec"]["topics"]
    find(resources, "Certificate", "api-tls")["metadata"]["label"] = {}
    found = errors(resources)
    assert any("KafkaSource/todo/notify-reminder-events" in e and "topics" in e for e in found)
    assert any("Certificate/todo/api-tls: metadata" in e and "label" in e for e in found)


@needs_schemas
def test_a_custom_kind_without_a_schema_is_an_error_not_a_pass() -> None:
    resource = {"apiVersion": "dapr.io/v1alpha1", "kind": "HTTPEndpoint", "metadata": {"name": "x"}}
    assert errors([resource]) == ["HTTPEndpoint/x: no schema for dapr.io/v1alpha1 HTTPEndpoint"]


def test_minimal_shapes_reject_unknown_fields() -> None:
    resources = monitoring()
    find(resources, "PodMonitor", "todo-functions")["spec"]["podMetricEndpoints"] = []
    rule = find(resources, "PrometheusRule", "todo")["spec"]["groups"][0]["rules"][0]
    rule["expresion"] = rule.pop("expr")
    found = validate.validate(resources, None).errors
    assert any("podMetricEndpoints" in e for e in found)
    assert any("expresion" in e for e in found)


def test_strict_closes_objects_but_keeps_preserved_ones_open() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "object", "properties": {"b": {"type": "string"}}},
            "open": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"c": {"type": "string"}},
            },
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    strict = validate.strict(schema)
    assert strict["additionalProperties"] is False
    assert strict["properties"]["a"]["additionalProperties"] is False
    assert "additionalProperties" not in strict["properties"]["open"]
    assert strict["properties"]["map"]["additionalProperties"] == {"type": "string"}
    assert "additionalProperties" not in schema  # the original is untouched
