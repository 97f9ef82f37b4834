"""What an overlay asks of the node at rest, against the Oracle shape it targets.

Adds the CPU and memory requests of every pod at its minimum scale (Knative Services at
min-scale, with their queue-proxy and Dapr sidecars; Deployments at their replicas) and the
platform underneath (deploy/budget.yaml), and compares the total with the shape. Jobs are
not counted: they run to completion at deploy time, before the functions take traffic.
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
    pods: int
    cpu_m: float  # for all pods
    memory_mi: float
    source: str


@dataclass(frozen=True)
class Shape:
    name: str
    description: str
    cpu_m: float
    memory_mi: float


@dataclass(frozen=True)
class Budget:
    overlay: str
    shape: Shape
    lines: list[Line]
    largest_idle_pod: tuple[str, float, float] | None  # a scale-to-zero pod waking up

    @property
    def cpu_m(self) -> float:
        return sum(line.cpu_m for line in self.lines)

    @property
    def memory_mi(self) -> float:
        return sum(line.memory_mi for line in self.lines)

    @property
    def fits(self) -> bool:
        return self.cpu_m <= self.shape.cpu_m and self.memory_mi <= self.shape.memory_mi


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


def workload_lines(
    resources: list[Resource], figures: dict[str, Any]
) -> tuple[list[Line], tuple[str, float, float] | None]:
    lines: list[Line] = []
    largest: tuple[str, float, float] | None = None
    for resource in resources:
        kind = resource.get("kind")
        name = resource["metadata"]["name"]
        if kind == "Service" and str(resource.get("apiVersion")).startswith("serving.knative"):
            template = resource["spec"]["template"]
            annotations = (template.get("metadata") or {}).get("annotations") or {}
            pods = int(annotations.get("autoscaling.knative.dev/min-scale", "0"))
            cpu, memory = _pod(template, figures, knative=True)
            if pods == 0 and (largest is None or cpu > largest[1]):
                largest = (name, cpu, memory)
            source = "manifest: container + queue-proxy + daprd requests, at min-scale"
            lines.append(Line("todo", name, pods, cpu * pods, memory * pods, source))
        elif kind in ("Deployment", "StatefulSet"):
            pods = int(resource["spec"].get("replicas", 1))
            cpu, memory = _pod(resource["spec"]["template"], figures, knative=False)
            source = f"manifest: {kind} requests x replicas"
            lines.append(Line("todo", name, pods, cpu * pods, memory * pods, source))
    return lines, largest


def platform_lines(overlay: str, figures: dict[str, Any]) -> list[Line]:
    lines = []
    for name in figures["overlays"][overlay]["platform"]:
        figure = figures["platform"][name]
        pods = int(figure.get("replicas", 1))
        lines.append(
            Line(
                figure["group"],
                name,
                pods,
                float(figure["cpu_m"]) * pods,
                float(figure["memory_mi"]) * pods,
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
    workloads, largest = workload_lines(resources, figures)
    return Budget(overlay, chosen, platform_lines(overlay, figures) + workloads, largest)


def table(budget: Budget) -> str:
    rows = [("group", "component", "pods", "CPU", "memory")]
    for line in budget.lines:
        rows.append(
            (
                line.group,
                line.name,
                str(line.pods),
                f"{line.cpu_m:.0f}m",
                f"{line.memory_mi:.0f}Mi",
            )
        )
    shape = budget.shape
    rows.append(("", "total", "", f"{budget.cpu_m:.0f}m", f"{budget.memory_mi:.0f}Mi"))
    rows.append(("", f"shape {shape.name}", "", f"{shape.cpu_m:.0f}m", f"{shape.memory_mi:.0f}Mi"))
    rows.append(
        (
            "",
            "headroom",
            "",
            f"{shape.cpu_m - budget.cpu_m:.0f}m",
            f"{shape.memory_mi - budget.memory_mi:.0f}Mi",
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    out = []
    for index, row in enumerate(rows):
        if index in (1, len(rows) - 3):
            out.append("  ".join("-" * w for w in widths))
        out.append(
            "  ".join(
                cell.rjust(widths[i]) if i >= 2 else cell.ljust(widths[i])
                for i, cell in enumerate(row)
            ).rstrip()
        )
    verdict = "fits" if budget.fits else "DOES NOT FIT"
    out.append("")
    out.append(
        f"{budget.overlay} at minimum scale {verdict} {shape.name} ({shape.description}): "
        f"{100 * budget.cpu_m / shape.cpu_m:.0f}% of CPU, "
        f"{100 * budget.memory_mi / shape.memory_mi:.0f}% of memory requested."
    )
    if budget.largest_idle_pod and budget.fits:
        name, cpu, memory = budget.largest_idle_pod
        room = min(
            (shape.cpu_m - budget.cpu_m) // cpu if cpu else 99,
            (shape.memory_mi - budget.memory_mi) // memory if memory else 99,
        )
        out.append(
            f"A scale-to-zero function pod asks up to {cpu:.0f}m / {memory:.0f}Mi ({name}): "
            f"room for {room:.0f} of them awake at once."
        )
    return "\n".join(out)


def sources(budget: Budget) -> str:
    return "\n".join(f"- {line.name}: {line.source}" for line in budget.lines)
