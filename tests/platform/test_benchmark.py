"""bench/platform.py still runs: its quick mode, on a stack of its own in a namespace of its
own (the tests' stack uses the same ports). What it measures is read from `task bench`,
never asserted here."""

from __future__ import annotations

import subprocess
import sys

from stack.isolation import in_new_namespace
from tests.test_benchmarks import ROOT


def test_the_platform_benchmark_runs_and_prints_its_target() -> None:
    done = subprocess.run(
        in_new_namespace([sys.executable, "-m", "bench.platform", "--quick"]),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "target" in done.stdout.splitlines()[-1], done.stdout
