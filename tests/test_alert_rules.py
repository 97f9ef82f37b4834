"""The alert rules pass Prometheus' own check, and its unit tests show each alert firing when
it should and staying silent when it should not (knative/monitoring/tests/alerts-test.yaml).

promtool comes with Debian's prometheus package (the `promtool` fixture in tests/conftest.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import KNATIVE
from tests.deploy_support import find, monitoring

UNIT_TESTS = KNATIVE / "monitoring" / "tests" / "alerts-test.yaml"


def unit_tests() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(UNIT_TESTS.read_text())
    return loaded


def rules() -> list[dict[str, Any]]:
    spec = find(monitoring(), "PrometheusRule", "todo")["spec"]
    return [rule for group in spec["groups"] for rule in group["rules"]]


@pytest.fixture
def rule_dir(tmp_path: Path) -> Path:
    """The PrometheusRule's spec as the rule file the unit tests name, next to a copy of them."""
    spec = find(monitoring(), "PrometheusRule", "todo")["spec"]
    [rule_file] = unit_tests()["rule_files"]
    (tmp_path / rule_file).write_text(yaml.safe_dump(spec))
    shutil.copy(UNIT_TESTS, tmp_path)
    return tmp_path


def promtool_says(promtool: str, rule_dir: Path, *args: str) -> str:
    run = subprocess.run(
        [promtool, *args], cwd=rule_dir, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_the_rules_pass_promtools_check(promtool: str, rule_dir: Path) -> None:
    [rule_file] = unit_tests()["rule_files"]
    assert "SUCCESS" in promtool_says(promtool, rule_dir, "check", "rules", rule_file)


def test_each_alert_fires_when_it_should_and_stays_silent_when_it_should_not(
    promtool: str, rule_dir: Path
) -> None:
    assert "SUCCESS" in promtool_says(promtool, rule_dir, "test", "rules", UNIT_TESTS.name)


def test_every_alert_has_a_unit_test_that_fires_it_and_one_that_keeps_it_silent() -> None:
    cases = [case for test in unit_tests()["tests"] for case in test["alert_rule_test"]]
    for alert in {rule["alert"] for rule in rules() if "alert" in rule}:
        expected = [case["exp_alerts"] for case in cases if case["alertname"] == alert]
        assert any(expected), f"no unit test fires {alert}"
        assert [] in expected, f"no unit test keeps {alert} silent"


def test_the_function_label_the_alerts_select_on_is_set_by_every_scrape_of_a_function() -> None:
    selected = [rule["alert"] for rule in rules() if "kn_service_name=" in rule["expr"]]
    assert selected  # the tick's alerts pick tick-reminders' series by it
    endpoints = find(monitoring(), "PodMonitor", "todo-functions")["spec"]["podMetricsEndpoints"]
    for endpoint in endpoints:
        assert {
            "sourceLabels": ["__meta_kubernetes_pod_label_serving_knative_dev_service"],
            "targetLabel": "kn_service_name",
        } in endpoint["relabelings"], endpoint["port"]
