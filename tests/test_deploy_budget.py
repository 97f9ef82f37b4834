"""`task budget`: the overlays at minimum scale fit the Oracle shape they target, from
figures that each name their source; a shape too small fails."""

from __future__ import annotations

import pytest
import yaml

from deploy import KNATIVE, budget
from deploy.__main__ import main
from tests.deploy_support import OVERLAYS_ALL, rendered

FIGURES = budget.load_figures()


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_each_overlay_fits_the_shape_it_targets(overlay: str) -> None:
    result = budget.compute(overlay, rendered(overlay))
    assert result.fits, budget.table(result)


def test_the_budget_prints_its_table_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["budget", "--overlay", "oracle"]) == 0
    out = capsys.readouterr().out
    for row in (
        "k3s-server",
        "knative-activator",
        "kourier-gateway",
        "dapr-sentry",
        "notify",
        "tick-reminders",
        "realtime",
        "total",
        "shape a1-2x12",
        "headroom",
    ):
        assert row in out
    assert "fits a1-2x12" in out


def test_a_shape_too_small_fails(capsys: pytest.CaptureFixture[str]) -> None:
    # The KafkaSource variant needs Knative Eventing and the Kafka source too: more than 2 OCPU.
    assert main(["budget", "--overlay", "oracle-kafkasource", "--shape", "a1-2x12"]) == 1
    assert "DOES NOT FIT a1-2x12" in capsys.readouterr().out
    assert main(["budget", "--overlay", "oracle-kafkasource"]) == 0


def test_pods_at_min_scale_count_their_sidecars() -> None:
    result = budget.compute("oracle", rendered("oracle"))
    lines = {line.name: line for line in result.lines}
    # app 20m + queue-proxy 25m + daprd 15m; 128 + 32 + 64 Mi
    assert (lines["notify"].pods, lines["notify"].cpu_m, lines["notify"].memory_mi) == (1, 60, 224)
    assert (lines["auth"].pods, lines["auth"].cpu_m) == (0, 0)
    assert lines["realtime"].pods == 1
    assert "postgres" not in lines  # local only
    assert result.largest_idle_pod is not None


def test_every_platform_figure_names_its_source() -> None:
    for name, figure in FIGURES["platform"].items():
        assert len(str(figure.get("source", ""))) > 20, name
        assert {"group", "cpu_m", "memory_mi"} <= set(figure), name
    for overlay, plan in FIGURES["overlays"].items():
        assert plan["shape"] in FIGURES["shapes"], overlay
        assert set(plan["platform"]) <= set(FIGURES["platform"]), overlay
    assert set(FIGURES["overlays"]) == set(OVERLAYS_ALL)


def test_the_traefik_figure_is_what_the_helm_values_request() -> None:
    config = yaml.safe_load((KNATIVE / "platform" / "k3s" / "traefik-config.yaml").read_text())
    requests = yaml.safe_load(config["spec"]["valuesContent"])["resources"]["requests"]
    figure = FIGURES["platform"]["traefik"]
    assert budget.cpu_millicores(requests["cpu"]) == figure["cpu_m"]
    assert budget.memory_mebibytes(requests["memory"]) == figure["memory_mi"]


@pytest.mark.parametrize(("cpu", "millicores"), [("25m", 25), ("1", 1000), ("0.5", 500), (2, 2000)])
def test_cpu_quantities(cpu: object, millicores: float) -> None:
    assert budget.cpu_millicores(cpu) == millicores


@pytest.mark.parametrize(
    ("memory", "mebibytes"), [("64Mi", 64), ("1Gi", 1024), ("1G", 1000**3 / 2**20), ("512Ki", 0.5)]
)
def test_memory_quantities(memory: str, mebibytes: float) -> None:
    assert budget.memory_mebibytes(memory) == pytest.approx(mebibytes)


def test_a_bad_quantity_is_an_error() -> None:
    with pytest.raises(budget.BudgetError):
        budget.cpu_millicores("25 m")
    with pytest.raises(budget.BudgetError):
        budget.memory_mebibytes("64MB")
