"""Every dependency, the extras included, installs from binary wheels on every supported
CPython on Linux x86_64 and arm64, as pip resolves it against the package index.

Nothing is downloaded: `pip install --dry-run --report` resolves from the index's metadata.
When the index cannot be reached, the test is skipped with pip's own words as the reason,
because what it checks is what the index publishes, not the code on the machine; in CI
(`CI` set, as .ci/run runs) it fails instead, because there a skip would let a dependency
without a wheel for one of these land unseen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHONS = ("3.11", "3.12", "3.13", "3.14")
MACHINES = ("x86_64", "aarch64")
# The glibc of Debian 12 (bookworm), the image's base and CI's machine: wheels built for it
# or any older glibc install there.
GLIBC_MINOR = 36
PIP = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input")
# Resolving pip itself from the index, giving up after one retry.
PROBE = ("--only-binary=:all:", "--retries", "1", "--timeout", "15", "pip")


def requirements() -> list[str]:
    """The project's dependencies and every extra's; an extra naming the project itself
    (`todo-functions[local]`) adds nothing that is not listed here already."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        listed += extra
    return [r for r in listed if not r.startswith(project["name"] + "[")]


def name(requirement: str) -> str:
    for end in "<>=!~[; ":
        requirement = requirement.split(end, 1)[0]
    return requirement.strip().lower().replace("_", "-")


def platforms(machine: str) -> list[str]:
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC_MINOR, 4, -1)]
    tags += [f"manylinux2014_{machine}", f"manylinux2010_{machine}", f"manylinux1_{machine}"]
    return [arg for tag in tags for arg in ("--platform", tag)]


def unreachable_index() -> str | None:
    """pip's first complaint (the cause: refused, not resolved, timed out) when it cannot
    resolve pip itself from the index, else None."""
    probe = subprocess.run(
        [*PIP, "install", "--dry-run", "--quiet", "--ignore-installed", "--no-deps", *PROBE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if probe.returncode == 0:
        return None
    return (probe.stderr.strip() or f"pip exited with {probe.returncode}").splitlines()[0]


def test_every_dependency_has_a_wheel_for_each_python_and_machine(tmp_path: Path) -> None:
    complaint = unreachable_index()
    if complaint:
        message = f"the package index is unreachable, so wheels cannot be checked: {complaint}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    wanted = requirements()
    runs = {}
    for python in PYTHONS:
        for machine in MACHINES:
            report = tmp_path / f"{python}-{machine}.json"
            command = [*PIP, "install", "--dry-run", "--quiet", "--ignore-installed"]
            command += ["--only-binary=:all:", "--implementation", "cp"]
            command += ["--python-version", python, *platforms(machine), "--report", str(report)]
            process = subprocess.Popen(
                [*command, *wanted], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            runs[python, machine] = (process, report)

    failures = []
    try:
        for (python, machine), (process, report) in runs.items():
            _, errors = process.communicate(timeout=600)
            if process.returncode:
                failures.append(f"CPython {python} on {machine}:\n{errors.strip()}")
                continue
            resolved = json.loads(report.read_text())["install"]
            missing = {name(r) for r in wanted} - {name(i["metadata"]["name"]) for i in resolved}
            if missing:
                failures.append(f"CPython {python} on {machine}: not resolved: {sorted(missing)}")
    finally:
        for process, _ in runs.values():
            if process.poll() is None:  # only after a timeout
                process.kill()
                process.wait()
    assert not failures, "\n\n".join(failures)
