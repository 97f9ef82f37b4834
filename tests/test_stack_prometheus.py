"""The stack's Prometheus configuration (stack/prometheus.py): what Prometheus accepts, and
what the PodMonitors may not ask of it without being refused. tests/platform/test_scrape.py
runs it against the real stack."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack import selfhosted
from stack.platform import NAMESPACE, Instance, Ports
from stack.processes import Process
from stack.prometheus import (
    Pod,
    Untranslatable,
    pods,
    relabel_configs,
    rule_groups,
    scrape_config,
)
from tests.deploy_support import find, monitoring


def stack_pods() -> list[Pod]:
    """The redis stack's pods, with processes that are never started."""
    specs = selfhosted.load("redis").apps
    instances = [
        Instance(
            spec.app_id,
            f"{spec.app_id}-0",
            Ports.numbered(n),
            Process(spec.app_id, [], Path("app.log")),
            Process(f"{spec.app_id}-daprd", [], Path("daprd.log")),
        )
        for n, spec in enumerate(specs, start=1)
    ]
    return pods(specs, instances, NAMESPACE)


def test_prometheus_accepts_the_stacks_configuration_and_rules(
    promtool: str, tmp_path: Path
) -> None:
    rule_files = []
    for name, spec in rule_groups(monitoring()).items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(spec))
        rule_files.append(f"{name}.yaml")
    config = scrape_config(monitoring(), stack_pods(), rule_files)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    check = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert [job["job_name"] for job in config["scrape_configs"]] == [
        "podMonitor/todo/todo-functions/0",
        "podMonitor/todo/todo-functions/1",
    ]


@pytest.mark.parametrize(
    "change",
    [
        lambda monitor: monitor["spec"]["podMetricsEndpoints"][0].update(scheme="https"),
        lambda monitor: monitor["spec"]["selector"].update(matchExpressions=[]),
        lambda monitor: monitor["spec"].update(namespaceSelector={"any": True}),
        lambda monitor: monitor["spec"]["podMetricsEndpoints"][0]["relabelings"][0].update(
            sourcelabels=["typo"]
        ),
    ],
    ids=["endpoint field", "selector", "namespace selector", "relabeling field"],
)
def test_a_podmonitor_field_the_stack_does_not_translate_is_refused(change: Any) -> None:
    resources = monitoring()
    change(find(resources, "PodMonitor", "todo-functions"))
    with pytest.raises(Untranslatable):
        scrape_config(resources, stack_pods(), [])


def test_relabelings_take_prometheus_field_names_and_lowercase_actions() -> None:
    relabeling = {"sourceLabels": ["a", "b"], "separator": ";", "targetLabel": "c"}
    assert relabel_configs([relabeling, {"action": "LabelDrop", "regex": "x"}]) == [
        {"source_labels": ["a", "b"], "separator": ";", "target_label": "c"},
        {"action": "labeldrop", "regex": "x"},
    ]
