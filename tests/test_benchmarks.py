"""Every benchmark still runs: each one, at a tiny size, against the test server.

What they measure is read from `task bench`, never asserted here; this only keeps a change
to the SQL or the functions from leaving a benchmark broken until someone next runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SMALL_RUNS = {
    "create_tasks": ["--requests", "60", "--concurrency", "4"],
    "cold_start": ["--runs", "1"],
    "tick": ["--rows", "20000", "--repeat", "1"],
    "events": ["--events", "60", "--concurrency", "4", "--rounds", "1"],
    "publish": ["--seconds", "2", "--concurrency", "4"],
    "list_tasks": ["--requests", "40", "--concurrency", "4", "--rounds", "1", "--tasks", "60"],
    "realtime": ["--connections", "20", "--users", "5", "--events", "20"],
    "recurrence": ["--years", "1", "--repeat", "1"],
    "cli": ["--tasks", "5", "--runs", "1"],
    "web": ["--tasks", "60", "--changes", "3", "--visits", "1"],
}
# bench.web drives Chromium through the web app's node packages, against its build.
WEB_NEEDS = [
    ROOT / "web" / "dist" / "index.html",
    ROOT / "web" / "node_modules" / "playwright-core",
    Path(os.environ.get("CHROMIUM", "/usr/bin/chromium")),
]


@pytest.mark.parametrize("bench", sorted(SMALL_RUNS))
def test_the_benchmark_runs_and_prints_its_ratio(server_url: str, bench: str) -> None:
    if bench == "web" and not all(path.exists() for path in WEB_NEEDS):
        pytest.skip("bench.web needs web/dist, web/node_modules (task web:build) and Chromium")
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{bench}", *SMALL_RUNS[bench]],
        cwd=ROOT,
        env={**os.environ, "BENCH_DATABASE_URL": server_url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "target" in done.stdout, done.stdout
