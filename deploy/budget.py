"""What an overlay asks of the node, against the Oracle shape it targets, in two cases.

Adds the CPU and memory requests of every pod (Knative Services with their queue-proxy and
Dapr sidecars; Deployments at their replicas) and of the platform underneath
(deploy/budget.yaml):

- at minimum scale (each Knative Service at its min-scale), which may take at most the share
  of the shape that deploy/budget.yaml's `limits.minimum` allows, so that the node has room
  to spare;
- with every function awake (each Knative Service at one pod at least), which must fit the
  shape (`limits.awake`): a request to any function finds room for its pod.

Jobs are not counted: they run to completion at deploy time, before the functions take
traffic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deploy.manifests import Resource

FIGURES = Path(__file__).with_name("budget.yaml")
_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_UNITS = {
    None: 1 / 2**20,
    "Ki": 1 / 1024,
    "Mi": 1.0,
    "Gi": 1024.0,
    "Ti": 1024.0**2,
    "k": 1000 / 2**20,
    "M": 1000**2 / 2**20,
    "G": 1000**3 / 2**20,
    "T": 1000**4 / 2**20,
}


class BudgetError(ValueError):
    pass


def cpu_millicores(value: Any) -> float:
    match = _CPU.match(str(value).strip())
    if not match:
        raise BudgetError(f"not a CPU quantity: {value!r}")
    number = float(match[1])
    return number if match[2] else number * 1000


def memory_mebibytes(value: Any) -> float:
    match = _MEMORY.match(str(value).strip())
    if not match:
        raise BudgetError(f"not a memory quantity: {value!r}")
    return float(match[1]) * _MEMORY_UNITS[match[2]]


@dataclass(frozen=True)
class Line:
    group: str
    name: str
    pod_cpu_m: float  # for one pod
    pod_memory_mi: float
    pods: int  # at minimum scale
    pods_awake: int  # with every function awake: each Knative Service at one pod at least
    source: str


@dataclass(frozen=True)
class Shape:
    name: str
    description: str
    cpu_m: float
    memory_mi: float


@dataclass(frozen=True)
class Case:
    """One way the node can be loaded, and the share of the shape it may take."""

    title: str
    cpu_m: float
    memory_mi: float
    limit: float

    def fits(self, shape: Shape) -> bool:
        return (
            self.cpu_m <= self.limit * shape.cpu_m
            and self.memory_mi <= self.limit * shape.memory_mi
        )

    def verdict(self, overlay: str, shape: Shape) -> str:
        return (
            f"{overlay} {self.title} {'fits' if self.fits(shape) else 'DOES NOT FIT'} "
            f"{shape.name}: {100 * self.cpu_m / shape.cpu_m:.0f}% of CPU, "
            f"{100 * self.memory_mi / shape.memory_mi:.0f}% of memory requested "
            f"(at most {100 * self.limit:.0f}%)."
        )


@dataclass(frozen=True)
class Budget:
    overlay: str
    shape: Shape
    lines: list[Line]
    limits: dict[str, float]  # share of the shape: "minimum", "awake"

    @property
    def minimum(self) -> Case:
        return Case(
            "at minimum scale",
            sum(line.pod_cpu_m * line.pods for line in self.lines),
            sum(line.pod_memory_mi * line.pods for line in self.lines),
            self.limits["minimum"],
        )

    @property
    def awake(self) -> Case:
        return Case(
            "with every function awake",
            sum(line.pod_cpu_m * line.pods_awake for line in self.lines),
            sum(line.pod_memory_mi * line.pods_awake for line in self.lines),
            self.limits["awake"],
        )

    @property
    def fits(self) -> bool:
        return self.minimum.fits(self.shape) and self.awake.fits(self.shape)


def load_figures(path: Path = FIGURES) -> dict[str, Any]:
    figures: dict[str, Any] = yaml.safe_load(path.read_text())
    return figures


def _requests(container: Resource) -> tuple[float, float]:
    requests = (container.get("resources") or {}).get("requests") or {}
    return (
        cpu_millicores(requests.get("cpu", 0)),
        memory_mebibytes(requests.get("memory", 0)),
    )


def _sidecars(annotations: dict[str, str], figures: dict[str, Any], knative: bool) -> list[float]:
    cpu = memory = 0.0
    defaults = figures["defaults"]
    if knative:
        prefix = "queue.sidecar.serving.knative.dev/"
        cpu += cpu_millicores(
            annotations.get(prefix + "cpu-resource-request", f"{defaults['queue-proxy']['cpu_m']}m")
        )
        memory += memory_mebibytes(
            annotations.get(
                prefix + "memory-resource-request", f"{defaults['queue-proxy']['memory_mi']}Mi"
            )
        )
    if annotations.get("dapr.io/enabled") == "true":
        cpu += cpu_millicores(
            annotations.get("dapr.io/sidecar-cpu-request", f"{defaults['daprd']['cpu_m']}m")
        )
        memory += memory_mebibytes(
            annotations.get("dapr.io/sidecar-memory-request", f"{defaults['daprd']['memory_mi']}Mi")
        )
    return [cpu, memory]


def _pod(template: Resource, figures: dict[str, Any], knative: bool) -> tuple[float, float]:
    spec = template.get("spec") or {}
    cpu, memory = _sidecars(
        (template.get("metadata") or {}).get("annotations") or {}, figures, knative
    )
    for container in spec.get("containers", []):
        c, m = _requests(container)
        cpu += c
        memory += m
    return cpu, memory


def workload_lines(resources: list[Resource], figures: dict[str, Any]) -> list[Line]:
    lines: list[Line] = []
    for resource in resources:
        kind = resource.get("kind")
        name = resource["metadata"]["name"]
        if kind == "Service" and str(resource.get("apiVersion")).startswith("serving.knative"):
            template = resource["spec"]["template"]
            annotations = (template.get("metadata") or {}).get("annotations") or {}
            pods = int(annotations.get("autoscaling.knative.dev/min-scale", "0"))
            cpu, memory = _pod(template, figures, knative=True)
            source = "manifest: container + queue-proxy + daprd requests, at min-scale"
            lines.append(Line("todo", name, cpu, memory, pods, max(pods, 1), source))
        elif kind in ("Deployment", "StatefulSet"):
            pods = int(resource["spec"].get("replicas", 1))
            cpu, memory = _pod(resource["spec"]["template"], figures, knative=False)
            source = f"manifest: {kind} requests x replicas"
            lines.append(Line("todo", name, cpu, memory, pods, pods, source))
    return lines


def platform_lines(overlay: str, figures: dict[str, Any]) -> list[Line]:
    lines = []
    for name in figures["overlays"][overlay]["platform"]:
        figure = figures["platform"][name]
        pods = int(figure.get("replicas", 1))
        lines.append(
            Line(
                figure["group"],
                name,
                float(figure["cpu_m"]),
                float(figure["memory_mi"]),
                pods,
                pods,
                " ".join(str(figure["source"]).split()),
            )
        )
    return lines


def compute(
    overlay: str,
    resources: list[Resource],
    shape: str | None = None,
    figures: dict[str, Any] | None = None,
) -> Budget:
    figures = figures or load_figures()
    if overlay not in figures["overlays"]:
        raise BudgetError(f"deploy/budget.yaml names no platform for overlay {overlay}")
    shape_name = shape or figures["overlays"][overlay]["shape"]
    if shape_name not in figures["shapes"]:
        raise BudgetError(f"unknown shape {shape_name}; known: {', '.join(figures['shapes'])}")
    raw = figures["shapes"][shape_name]
    chosen = Shape(shape_name, raw["description"], float(raw["cpu_m"]), float(raw["memory_mi"]))
    lines = platform_lines(overlay, figures) + workload_lines(resources, figures)
    shares = {**figures["limits"], **figures["overlays"][overlay].get("limits", {})}
    limits = {case: float(share) for case, share in shares.items()}
    return Budget(overlay, chosen, lines, limits)


def table(budget: Budget) -> str:
    """Each component at minimum scale and awake, the totals, and one verdict per case."""
    header = ("group", "component", "pods", "CPU", "memory", "awake", "CPU", "memory")
    rows = [header]
    for line in budget.lines:
        rows.append(
            (
                line.group,
                line.name,
                str(line.pods),
                f"{line.pod_cpu_m * line.pods:.0f}m",
                f"{line.pod_memory_mi * line.pods:.0f}Mi",
                str(line.pods_awake),
                f"{line.pod_cpu_m * line.pods_awake:.0f}m",
                f"{line.pod_memory_mi * line.pods_awake:.0f}Mi",
            )
        )
    shape, minimum, awake = budget.shape, budget.minimum, budget.awake
    shape_cpu, shape_memory = f"{shape.cpu_m:.0f}m", f"{shape.memory_mi:.0f}Mi"
    minimum_total = (f"{minimum.cpu_m:.0f}m", f"{minimum.memory_mi:.0f}Mi")
    awake_total = (f"{awake.cpu_m:.0f}m", f"{awake.memory_mi:.0f}Mi")
    rows.append(("", "total", "", *minimum_total, "", *awake_total))
    rows.append(
        ("", f"shape {shape.name}", "", shape_cpu, shape_memory, "", shape_cpu, shape_memory)
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    out = []
    for index, row in enumerate(rows):
        if index in (1, len(rows) - 2):
            out.append("  ".join("-" * w for w in widths))
        out.append(
            "  ".join(
                cell.rjust(widths[i]) if i >= 2 else cell.ljust(widths[i])
                for i, cell in enumerate(row)
            ).rstrip()
        )
    out.append("")
    out.append(f"{shape.name}: {shape.description}")
    out.append(minimum.verdict(budget.overlay, shape))
    out.append(awake.verdict(budget.overlay, shape))
    return "\n".join(out)


def sources(budget: Budget) -> str:
    return "\n".join(f"- {line.name}: {line.source}" for line in budget.lines)
