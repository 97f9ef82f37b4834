"""The rendered NetworkPolicies admit what must get in and nothing else (deploy/netpol.py)."""

from __future__ import annotations

import pytest

from deploy.manifests import Resource
from deploy.netpol import Pod, admits, matches
from tests.deploy_support import find, rendered

TLS_OVERLAYS = ["oracle", "oracle-kafkasource"]
# The labels of the pods in question, as their projects set them: cert-manager's HTTP-01
# solver (pkg/issuer/acme/http), the Traefik of k3s' chart, a function of ours.
SOLVER = Pod("todo", {"acme.cert-manager.io/http01-solver": "true"})
TRAEFIK = Pod("kube-system", {"app.kubernetes.io/name": "traefik"})
FUNCTION = Pod("todo", {"todo/tier": "function", "todo/dapr-sidecar": "true"})
KOURIER = Pod("kourier-system", {"app": "3scale-kourier-gateway"})
STRANGER = Pod("default", {"app.kubernetes.io/name": "traefik"})
SOLVER_PORT = 8089


@pytest.mark.parametrize("overlay", TLS_OVERLAYS)
def test_traefik_reaches_the_acme_solver(overlay: str) -> None:
    assert admits(rendered(overlay), TRAEFIK, SOLVER, SOLVER_PORT)


@pytest.mark.parametrize("overlay", TLS_OVERLAYS)
def test_nothing_else_reaches_the_acme_solver(overlay: str) -> None:
    resources = rendered(overlay)
    assert not admits(resources, STRANGER, SOLVER, SOLVER_PORT)
    assert not admits(resources, FUNCTION, SOLVER, SOLVER_PORT)
    assert not admits(resources, TRAEFIK, SOLVER, 8080)


@pytest.mark.parametrize("overlay", TLS_OVERLAYS)
def test_the_certificate_starts_on_the_staging_issuer(overlay: str) -> None:
    resources = rendered(overlay)
    certificate = find(resources, "Certificate", "api-tls")
    issuer = find(resources, "ClusterIssuer", certificate["spec"]["issuerRef"]["name"])
    assert "staging" in issuer["spec"]["acme"]["server"]


def test_default_deny_holds_for_functions() -> None:
    resources = rendered("oracle")
    assert admits(resources, KOURIER, FUNCTION, 8012)
    assert not admits(resources, TRAEFIK, FUNCTION, 8012)
    assert not admits(resources, KOURIER, FUNCTION, 8080)


def test_without_a_policy_a_pod_takes_everything() -> None:
    assert admits([], STRANGER, SOLVER, SOLVER_PORT)


@pytest.mark.parametrize(
    ("selector", "selected"),
    [
        ({}, True),
        ({"matchLabels": {"a": "1"}}, True),
        ({"matchLabels": {"a": "2"}}, False),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, False),
        ({"matchExpressions": [{"key": "b", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "b", "operator": "DoesNotExist"}]}, True),
    ],
)
def test_label_selectors(selector: Resource, selected: bool) -> None:
    assert matches(selector, {"a": "1"}) is selected


@pytest.mark.parametrize("overlay", ["local", "oracle"])
def test_no_function_reaches_another_s_sidecar(overlay: str) -> None:
    # Dapr's sidecar-to-sidecar gRPC port (service invocation): nothing uses it.
    resources = rendered(overlay)
    for port in (50001, 50002):
        assert not admits(resources, FUNCTION, FUNCTION, port)


@pytest.mark.parametrize("overlay", ["local", "oracle"])
def test_dapr_denies_service_invocation_and_traces_nowhere(overlay: str) -> None:
    configuration = find(rendered(overlay), "Configuration", "todo")
    access = configuration["spec"]["accessControl"]
    assert access["defaultAction"] == "deny"
    assert access.get("policies", []) == []
    # No collector is installed anywhere: a tracing exporter would only log its failures.
    assert "tracing" not in configuration["spec"]


# The KafkaSource variant's way to the event routes: the source dispatcher (knative-eventing,
# eventing-kafka-broker data-plane/config/source/500-dispatcher.yaml) calls Kourier, which
# hands on to the activator or the pod's queue-proxy.
DISPATCHER = Pod("knative-eventing", {"app": "kafka-source-dispatcher"})
KOURIER_PROBER = Pod("knative-serving", {"app": "net-kourier-controller"})
KOURIER_PORT = 8081  # kourier-internal, where Traefik and the sources' sinks resolve to


def test_in_the_kafkasource_variant_only_the_platform_reaches_kourier() -> None:
    resources = rendered("oracle-kafkasource")
    for caller in (TRAEFIK, DISPATCHER, KOURIER_PROBER):
        assert admits(resources, caller, KOURIER, KOURIER_PORT), caller
    for stranger in (STRANGER, FUNCTION, Pod("default", {"app": "kafka-source-dispatcher"})):
        assert not admits(resources, stranger, KOURIER, KOURIER_PORT), stranger
    # ... and nothing in the cluster reaches a function pod past Kourier and Knative.
    for caller in (STRANGER, DISPATCHER, TRAEFIK):
        assert not admits(resources, caller, FUNCTION, 8012), caller
        assert not admits(resources, caller, FUNCTION, 8080), caller
