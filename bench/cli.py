"""The command line's speed as a person feels it: `todo ls` over 200 tasks and `todo --help`,
each a whole process from start to exit, beside a bare `python -c pass`. `todo ls` talks to
a `todo dev` this starts (on an embedded Postgres, or BENCH_DATABASE_URL's server).
Target: under 300 ms each.

    python -m bench.cli [--tasks N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from todo_client import Client

from bench.harness import database, met, todo_dev

TARGET_MS = 300.0
PASSWORD = "a long bench passphrase"


def seconds_to_run(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    todo = str(Path(sys.executable).with_name("todo"))
    with (
        database() as url,
        tempfile.TemporaryDirectory() as home,
        todo_dev(url, home) as server,
    ):
        env = {**os.environ, "XDG_CONFIG_HOME": f"{home}/config", "TODO_SERVER": server}
        subprocess.run(
            [todo, "register", "--email", "bench@example.com", "--password-stdin"],
            env=env,
            input=PASSWORD,
            text=True,
            stdout=subprocess.DEVNULL,
            check=True,
        )
        with Client(server) as client:
            client.login("bench@example.com", PASSWORD)
            for number in range(args.tasks):
                client.tasks.create(f"Task {number} in {number % 30} days #bench")
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "todo --help": [todo, "--help"],
            f"todo ls ({args.tasks} tasks)": [todo, "ls", "--status", "all"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):  # interleaved, so drift hits all alike
            for name, command in commands.items():
                times[name].append(seconds_to_run(command, env))
    print(f"cli: median of {args.runs} runs, each a whole process from start to exit")
    medians = {name: statistics.median(runs) * 1000 for name, runs in times.items()}
    for name, runs in times.items():
        print(f"{name:<24} {medians[name]:7.0f} ms   (min {min(runs) * 1000:.0f})")
    slowest = max(ms for name, ms in medians.items() if name.startswith("todo"))
    print(
        f"todo ls and todo --help, slowest median {slowest:.0f} ms "
        f"(target < {TARGET_MS:.0f} ms each): {met(slowest < TARGET_MS)}"
    )


if __name__ == "__main__":
    main()
