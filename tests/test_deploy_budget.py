"""`task budget`: each overlay fits the Oracle shape it targets at minimum scale (within half
of it) and with every function awake, from figures that each name their source and match
what the Taskfile sets; a shape too small fails, in either case."""

from __future__ import annotations

import pytest
import yaml

from deploy import KNATIVE, ROOT, budget
from deploy.__main__ import main
from tests.deploy_support import OVERLAYS_ALL, rendered

FIGURES = budget.load_figures()


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_each_overlay_fits_the_shape_it_targets(overlay: str) -> None:
    result = budget.compute(overlay, rendered(overlay))
    assert result.fits, budget.table(result)


def test_the_budget_prints_its_table_and_both_cases(capsys: pytest.CaptureFixture[str]) -> None:
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
    ):
        assert row in out
    assert "oracle at minimum scale fits a1-2x12" in out
    assert "(at most 50%)" in out
    assert "oracle with every function awake fits a1-2x12" in out


def test_the_oracle_overlay_takes_at_most_half_at_rest_and_fits_awake() -> None:
    result = budget.compute("oracle", rendered("oracle"))
    shape = result.shape
    assert result.minimum.cpu_m <= shape.cpu_m / 2
    assert result.minimum.memory_mi <= shape.memory_mi / 2
    assert result.awake.cpu_m <= shape.cpu_m
    assert result.awake.memory_mi <= shape.memory_mi


def test_a_shape_too_small_fails(capsys: pytest.CaptureFixture[str]) -> None:
    # The KafkaSource variant needs Knative Eventing and the Kafka source too: more than
    # half of 2 OCPU at rest.
    assert main(["budget", "--overlay", "oracle-kafkasource", "--shape", "a1-2x12"]) == 1
    assert "oracle-kafkasource at minimum scale DOES NOT FIT a1-2x12" in capsys.readouterr().out
    assert main(["budget", "--overlay", "oracle-kafkasource"]) == 0


def test_every_function_awake_must_fit_too() -> None:
    resources = rendered("oracle")
    for service in resources:
        if service["kind"] == "Service" and service["metadata"]["name"] == "auth":
            container = service["spec"]["template"]["spec"]["containers"][0]
            container["resources"]["requests"]["cpu"] = "2"
    result = budget.compute("oracle", resources)
    assert result.minimum.fits(result.shape)
    assert not result.awake.fits(result.shape)
    assert not result.fits
    assert "oracle with every function awake DOES NOT FIT" in budget.table(result)


def test_pods_count_their_sidecars_at_min_scale_and_one_each_awake() -> None:
    result = budget.compute("oracle", rendered("oracle"))
    lines = {line.name: line for line in result.lines}
    # app 20m + queue-proxy 25m + daprd 15m; 128 + 32 + 176 Mi
    notify = lines["notify"]
    assert (notify.pods, notify.pod_cpu_m, notify.pod_memory_mi) == (1, 60, 336)
    assert (lines["auth"].pods, lines["auth"].pods_awake) == (0, 1)
    assert lines["realtime"].pods == 1
    assert "postgres" not in lines  # local only


def test_every_platform_figure_names_its_source() -> None:
    for name, figure in FIGURES["platform"].items():
        assert len(str(figure.get("source", ""))) > 20, name
        assert {"group", "cpu_m", "memory_mi"} <= set(figure), name
    for overlay, plan in FIGURES["overlays"].items():
        assert plan["shape"] in FIGURES["shapes"], overlay
        assert set(plan["platform"]) <= set(FIGURES["platform"]), overlay
    assert set(FIGURES["overlays"]) == set(OVERLAYS_ALL)


def _platform_commands(task: str) -> str:
    tasks = yaml.safe_load((ROOT / "Taskfile.yml").read_text())["tasks"]
    return "\n".join(" ".join(str(c).split()) for c in tasks[task]["cmds"])


@pytest.mark.parametrize(
    "name", [n for n, f in FIGURES["platform"].items() if "deployment" in f.get("set_by", {})]
)
def test_the_knative_figures_are_what_the_taskfile_sets(name: str) -> None:
    figure = FIGURES["platform"][name]
    target = figure["set_by"]
    expected = (
        f"kubectl set resources deployment/{target['deployment']} -n {target['namespace']} "
        f"--requests=cpu={figure['cpu_m']}m,memory={figure['memory_mi']}Mi"
    )
    assert expected in _platform_commands("platform:knative")


@pytest.mark.parametrize(
    "name", [n for n, f in FIGURES["platform"].items() if "helm" in f.get("set_by", {})]
)
def test_the_dapr_figures_are_what_the_helm_values_set(name: str) -> None:
    figure = FIGURES["platform"][name]
    prefix = figure["set_by"]["helm"]
    commands = _platform_commands("platform:dapr")
    assert f"--set {prefix}.resources.requests.cpu={figure['cpu_m']}m" in commands
    assert f"--set {prefix}.resources.requests.memory={figure['memory_mi']}Mi" in commands


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
