"""The stack's resident memory, process by process, beside what each pod's container asks for
(request) and may use (limit) in the overlay the stack was rendered from.

VmRSS is split as /proc/<pid>/status splits it: RssAnon (heap and stacks, which the kernel can
only take back by killing the process), RssFile (mapped files, such as daprd's 312 MB binary:
clean pages the kernel drops under pressure and reads again) and RssShmem (Postgres' shared
buffers). A cgroup charges all three to the container, but only anonymous memory over the
limit ends in an OOM kill. A row sums a process tree (gunicorn and its worker, Postgres and
its backends), so a page shared inside the tree counts once per process: an upper bound.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from deploy.budget import memory_mebibytes
from deploy.manifests import Resource
from deploy.render import render
from stack.platform import REALTIME, Broker, PlatformStack
from stack.selfhosted import OVERLAYS

MIB = 2**20


@dataclass(frozen=True)
class Resident:
    """Resident bytes by kind of page."""

    anon: int = 0
    file: int = 0
    shmem: int = 0

    @property
    def total(self) -> int:
        return self.anon + self.file + self.shmem

    def __add__(self, other: Resident) -> Resident:
        return Resident(self.anon + other.anon, self.file + other.file, self.shmem + other.shmem)


def resident(pid: int) -> Resident:
    """One process's RssAnon, RssFile and RssShmem (they add up to its VmRSS)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("RssAnon", "RssFile", "RssShmem"):
            fields[name] = int(value.split()[0]) * 1024
    return Resident(fields["RssAnon"], fields["RssFile"], fields["RssShmem"])


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process exited while we looked
            continue
        # The command name is parenthesised and may hold spaces; the parent follows the state.
        parent = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


@dataclass(frozen=True)
class Sizing:
    """A container's memory request and limit in MiB; None where the manifest sets none."""

    request: float | None = None
    limit: float | None = None


UNSIZED = Sizing()


@dataclass(frozen=True)
class Row:
    kind: str
    name: str
    processes: int
    memory: Resident
    sizing: Sizing

    def flag(self) -> str:
        anon, total = self.memory.anon / MIB, self.memory.total / MIB
        limit, request = self.sizing.limit, self.sizing.request
        if limit is not None and anon > limit:
            return "ANON OVER LIMIT"
        if limit is not None and total > limit:
            return "over limit (file pages count)"
        if request is not None and total > request:
            return "over request"
        return ""


def sizings(broker: Broker) -> dict[str, tuple[Sizing, Sizing]]:
    """(container, daprd) sizing per Dapr app id or workload name, from the rendered overlay."""
    found: dict[str, tuple[Sizing, Sizing]] = {}
    for resource in render(OVERLAYS[broker]):
        if resource["kind"] not in ("Service", "Deployment", "StatefulSet"):
            continue
        template = resource["spec"].get("template")
        if template is None:  # a core Service
            continue
        notes = (template.get("metadata") or {}).get("annotations") or {}
        (container, *_) = template["spec"]["containers"]
        name = notes.get("dapr.io/app-id", resource["metadata"]["name"])
        found[name] = (_container(container), _sidecar(notes))
    return found


def _container(container: Resource) -> Sizing:
    resources = container.get("resources") or {}
    return Sizing(
        _mebibytes((resources.get("requests") or {}).get("memory")),
        _mebibytes((resources.get("limits") or {}).get("memory")),
    )


def _sidecar(notes: dict[str, str]) -> Sizing:
    return Sizing(
        _mebibytes(notes.get("dapr.io/sidecar-memory-request")),
        _mebibytes(notes.get("dapr.io/sidecar-memory-limit")),
    )


def _mebibytes(value: str | None) -> float | None:
    return None if value is None else memory_mebibytes(value)


@dataclass(frozen=True)
class Part:
    """One container's (or host process's) process tree in the stack."""

    kind: str
    name: str
    pid: int
    sizing: Sizing


def parts(stack: PlatformStack) -> list[Part]:
    """Every pod's container and daprd, the broker and Postgres."""
    sizes = sizings(stack.broker_name)
    found = []
    for instance in stack.instances:
        container, sidecar = sizes.get(instance.app_id, (UNSIZED, UNSIZED))
        kind = "realtime" if instance.app_id == REALTIME else "function"
        found.append(Part(kind, instance.pod_name, instance.app.pid, container))
        found.append(Part("daprd", f"{instance.pod_name}-daprd", instance.sidecar.pid, sidecar))
    broker = stack.broker_name
    found.append(Part("broker", broker, stack.broker_pid(), sizes.get(broker, (UNSIZED,))[0]))
    found.append(
        Part("postgres", "postgres", stack.postgres_pid(), sizes.get("postgres", (UNSIZED,))[0])
    )
    return found


def measure(of: list[Part]) -> list[Row]:
    """Each part's resident memory, read now."""
    rows = []
    for part in of:
        tree = process_tree(part.pid)
        total = Resident()
        for member in tree:
            try:
                total += resident(member)
            except FileNotFoundError:  # a short-lived child exited
                continue
        rows.append(Row(part.kind, part.name, len(tree), total, part.sizing))
    return rows


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of `pid`'s tree so far (what exited children used is lost,
    but the stack's processes and their pools' connections live as long as the run)."""
    ticks = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def table(rows: list[Row]) -> list[str]:
    """The rows, then the totals per kind, in MiB."""
    head = (
        f"{'kind':<9} {'process':<24} {'procs':>5} {'anon':>7} {'file':>7} {'shmem':>7} "
        f"{'RSS':>7} {'request':>8} {'limit':>7}  flag"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        lines.append(
            f"{row.kind:<9} {row.name:<24} {row.processes:>5} {_mib(row.memory)}"
            f" {_size(row.sizing.request):>8} {_size(row.sizing.limit):>7}  {row.flag()}".rstrip()
        )
    lines.append("-" * len(head))
    kinds = dict.fromkeys(row.kind for row in rows)
    for kind in kinds:
        mine = [row for row in rows if row.kind == kind]
        total = sum((row.memory for row in mine), Resident())
        lines.append(
            f"{kind:<9} {'total of ' + str(len(mine)):<24} "
            f"{sum(r.processes for r in mine):>5} {_mib(total)}"
        )
    everything = sum((row.memory for row in rows), Resident())
    lines.append(
        f"{'all':<9} {'total of ' + str(len(rows)):<24} "
        f"{sum(r.processes for r in rows):>5} {_mib(everything)}"
    )
    return lines


def _mib(memory: Resident) -> str:
    return " ".join(
        f"{value / MIB:7.1f}" for value in (memory.anon, memory.file, memory.shmem, memory.total)
    )


def _size(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
