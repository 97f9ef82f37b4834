"""`task platform:knative` waits for Knative before it patches Knative's config maps, and
uses the keys Knative 1.23 reads."""

from __future__ import annotations

import yaml

from deploy import ROOT

TASKS = yaml.safe_load((ROOT / "Taskfile.yml").read_text())["tasks"]
WAIT = {"task": "_knative:wait"}


def _commands(task: str) -> list[object]:
    commands: list[object] = TASKS[task]["cmds"]
    return commands


def test_config_maps_are_patched_only_once_the_webhook_answers() -> None:
    # Knative's webhook validates its config maps with failurePolicy Fail.
    commands = _commands("platform:knative")
    patches = [i for i, c in enumerate(commands) if "patch configmap" in str(c)]
    assert patches
    assert WAIT in commands[: min(patches)]
    waits = " ".join(str(c) for c in _commands("_knative:wait"))
    for namespace in ("knative-serving", "kourier-system"):
        assert f"kubectl wait --for=condition=Available deployment --all -n {namespace}" in waits


def test_the_empty_dir_flag_has_its_knative_1_23_name() -> None:
    features = next(str(c) for c in _commands("platform:knative") if "config-features" in str(c))
    assert '"kubernetes.podspec-volumes-emptydir":"enabled"' in features
