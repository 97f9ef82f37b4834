"""The KafkaSource variant authenticates its deliveries: Knative Eventing's sender identity is
switched on, every source names its sink's audience (else it sends no token), and notify and
process-event take exactly the tokens of the sources that deliver to them."""

from __future__ import annotations

import copy

import pytest
import yaml

from deploy import ROOT, consistency
from deploy.consistency import child_name, source_subject
from deploy.manifests import Resource
from tests.deploy_support import OVERLAYS_ALL, find, knative_service, rendered

TASKS = yaml.safe_load((ROOT / "Taskfile.yml").read_text())["tasks"]
FED = ("notify", "process-event")


def _env(resources: list[Resource], name: str) -> dict[str, str]:
    container = knative_service(resources, name)["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "<from a Secret>") for e in container["env"]}


@pytest.mark.parametrize(
    ("parent", "suffix", "name"),
    [  # knative.dev/pkg kmeta/names_test.go
        ("asdf", "-deployment", "asdf-deployment"),
        (
            "f" * 63,
            "-deployment",
            "ffffffffffffffffffff105d7597f637e83cc711605ac3ea4957-deployment",
        ),
        ("f" * 63, "f" * 63, "fffffffffffffffffffffffffffffff0502661254f13c89973cb3a83e0cbec0"),
        ("a", "f" * 63, "ab5cfd486935decbc0d305799f4ce4414ffffffffffffffffffffffffffffff"),
        ("aaaa", "b---a" * 20, "aaaa7a3f7966594e3f0849720eced8212c18b---ab---ab---ab---ab---ab"),
        (
            "a" * 17,
            "a.-.-.-.-.-.-.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "aaaaaaaaaaaaaaaaaa1eb10dc911444f8434af83b7225442da",
        ),
    ],
)
def test_source_accounts_are_named_as_knative_names_them(
    parent: str, suffix: str, name: str
) -> None:
    assert child_name(parent, suffix) == name


def test_a_long_source_name_gets_a_hashed_account() -> None:
    source = {"metadata": {"name": "dead-letters-reminder-events", "namespace": "todo"}}
    # 28 + 37 characters: past 63, so kmeta.ChildName hashes name and suffix together.
    assert source_subject(source) == (
        "system:serviceaccount:todo:dead-letters-reminder-eventsc336702c875d2acc21a5238eb31a1e94-oi"
    )


def test_the_fed_functions_take_exactly_their_sources_tokens() -> None:
    resources = rendered("oracle-kafkasource")
    assert consistency.event_senders(resources) == []
    sources = [r for r in resources if r["kind"] == "KafkaSource"]
    for source in sources:
        spec = source["spec"]
        assert (
            spec["sink"]["audience"]
            == _env(resources, spec["sink"]["ref"]["name"])["EVENT_AUDIENCE"]
        )
    notify = _env(resources, "notify")
    assert notify["EVENT_AUDIENCE"] == "serving.knative.dev/service/todo/notify"
    assert notify["EVENT_SENDERS"] == (
        "system:serviceaccount:todo:notify-reminder-events-oidc-sources.knative.dev-kafkasource"
    )
    # process-event takes task.events and every source's dead letters.
    senders = _env(resources, "process-event")["EVENT_SENDERS"].split(",")
    assert {s.strip() for s in senders} == {source_subject(s) for s in sources}
    settings = find(resources, "ConfigMap", "todo-settings")["data"]
    assert settings["EVENT_REVIEW_URL"] == (
        "https://kubernetes.default.svc/apis/authentication.k8s.io/v1/tokenreviews"
    )
    assert settings["EVENT_REVIEW_TOKEN_FILE"].startswith("/var/run/secrets/kubernetes.io/")
    assert settings["EVENT_REVIEW_CA_FILE"].startswith("/var/run/secrets/kubernetes.io/")


def test_the_fed_functions_may_review_tokens_and_nothing_more() -> None:
    """Their account may create TokenReviews, in the KafkaSource variant only."""
    resources = rendered("oracle-kafkasource")
    accounts = {
        knative_service(resources, name)["spec"]["template"]["spec"]["serviceAccountName"]
        for name in FED
    }
    bindings = [r for r in resources if r["kind"] == "ClusterRoleBinding"]
    (binding,) = bindings
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": "todo"} for account in accounts
    ]
    role = find(resources, "ClusterRole", binding["roleRef"]["name"])
    assert role["rules"] == [
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["tokenreviews"],
            "verbs": ["create"],
        }
    ]


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_every_overlay_agrees_on_senders(overlay: str) -> None:
    resources = rendered(overlay)
    assert consistency.event_senders(resources) == []
    if not any(r["kind"] == "KafkaSource" for r in resources):
        for name in FED:
            assert "EVENT_AUDIENCE" not in _env(resources, name)
        assert not {r["kind"] for r in resources} & {"ClusterRole", "ClusterRoleBinding"}


def test_a_source_without_an_audience_or_a_stray_sender_is_caught() -> None:
    resources = copy.deepcopy(rendered("oracle-kafkasource"))
    source = next(r for r in resources if r["metadata"]["name"] == "notify-reminder-events")
    del source["spec"]["sink"]["audience"]
    source["spec"]["delivery"]["deadLetterSink"]["audience"] = "serving.knative.dev/x"
    problems = consistency.event_senders(resources)
    assert any("sends to notify with no audience" in p for p in problems)
    assert any("is not process-event's EVENT_AUDIENCE" in p for p in problems)
    resources = copy.deepcopy(rendered("oracle-kafkasource"))
    resources.remove(source := next(r for r in resources if r["kind"] == "KafkaSource"))
    assert any(
        source_subject(source) in p and "EVENT_SENDERS" in p
        for p in consistency.event_senders(resources)
    )


def test_the_kafka_source_task_turns_sender_identity_on_once_eventing_answers() -> None:
    commands = [str(c) for c in TASKS["platform:kafka-source"]["cmds"]]
    feature = next(i for i, c in enumerate(commands) if "config-features" in c)
    assert "-n knative-eventing" in commands[feature]
    assert '"authentication-oidc":"enabled"' in commands[feature]
    wait = "kubectl wait --for=condition=Available deployment --all -n knative-eventing"
    assert any(wait in c for c in commands[:feature])
