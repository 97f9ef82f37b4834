"""`task undeploy` removes the app and keeps what the docs say stays; `task purge`, which
removes everything, asks first."""

from __future__ import annotations

import pytest
import yaml

from deploy import ROOT, undeploy
from deploy.__main__ import main
from deploy.manifests import describe, parse_documents
from tests.deploy_support import OVERLAYS_ALL, rendered

TASKS = yaml.safe_load((ROOT / "Taskfile.yml").read_text())["tasks"]


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_undeploy_removes_the_app_only(overlay: str) -> None:
    resources = rendered(overlay)
    removed = undeploy.removable(resources)
    services = [r for r in resources if r["kind"] == "Service"]
    assert services
    assert all(s in removed for s in services)
    for resource in removed:
        assert resource["metadata"]["namespace"] == "todo", describe(resource)
        assert resource["kind"] not in ("Namespace", "PersistentVolumeClaim", "Secret")
    assert len(removed) + len(undeploy.kept(resources)) == len(resources)


def test_undeploy_keeps_the_namespace_the_data_and_what_the_cluster_shares() -> None:
    kept = {describe(r) for r in undeploy.kept(rendered("local"))}
    assert {"Namespace/todo", "PersistentVolumeClaim/todo/postgres-data"} <= kept
    kept = {describe(r) for r in undeploy.kept(rendered("oracle"))}
    assert {
        "Namespace/todo",
        "HelmChartConfig/kube-system/traefik",
        "ClusterIssuer/letsencrypt-staging",
        "ClusterIssuer/letsencrypt-prod",
    } <= kept
    kept = {describe(r) for r in undeploy.kept(rendered("oracle-kafkasource"))}
    assert {
        "ClusterRole/todo-token-reviewer",
        "ClusterRoleBinding/todo-function-token-reviewer",
    } <= kept


def test_the_undeploy_command_prints_what_it_removes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["undeploy", "--overlay", "local"]) == 0
    out, err = capsys.readouterr()
    printed = {describe(r) for r in parse_documents(out, "stdout")}
    assert printed == {describe(r) for r in undeploy.removable(rendered("local"))}
    assert "keeps PersistentVolumeClaim/todo/postgres-data" in err


def test_the_undeploy_task_deletes_what_the_command_prints_and_purge_asks_first() -> None:
    (command,) = TASKS["undeploy"]["cmds"]
    assert "python -m deploy undeploy" in command
    assert "delete -k" not in command
    assert "pipefail" in TASKS["undeploy"]["set"]
    (precondition,) = TASKS["purge"]["preconditions"]
    assert "CONFIRM" in precondition["sh"]
    assert any("delete -k" in c for c in TASKS["purge"]["cmds"])
