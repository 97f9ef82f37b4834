"""POST /api/tasks throughput and latency, against the same SQL done with bare asyncpg.

The function runs as deployed: `functions-framework --asgi` (gunicorn with one uvicorn
worker) against Postgres, so each request pays for HTTP, auth, validation and its
statement. The baseline runs the function's own SQL statement (imported, not copied)
from one process with a pool of the same size and no HTTP at all. Target: the function
reaches at least half the baseline's rate.

A second run adds a stand-in sidecar answering Dapr's publish API, as in the cluster:
each request then also publishes its event (in bulk, from the after-commit lanes) and
marks it published. Target: that too reaches at least half the baseline's rate. The real
sidecar is a Go process, the stand-in a small Python one (bench/sidecar.py).

    python -m bench.create_tasks [--requests N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import uvloop

from bench import footprint
from bench.harness import (
    JWT_SECRET,
    ROOT,
    RawHttpClient,
    database,
    fake_sidecar,
    free_port,
    make_users,
    percentile,
    start_function,
    stop,
    wait_until_serving,
)
from todo import idempotency
from todo.db import _init_connection
from todo.outbox import Appending
from todo.settings import Settings
from todo.task_models import TaskCreate
from todo.tasks import CREATE_TASK, announcing, new_task, task_columns, task_json

POOL_SIZE = Settings().db_pool_max
TARGET = 0.50


@dataclass
class Result:
    name: str
    seconds: float
    latencies: list[float]
    # CPU seconds the function's process tree used over the measured run, when known.
    cpu: float | None = None

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def line(self) -> str:
        p50 = percentile(self.latencies, 50) * 1000
        p99 = percentile(self.latencies, 99) * 1000
        line = f"{self.name:<46} {self.rate:8.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
        if self.cpu is not None:
            line += f"   CPU {self.cpu / max(len(self.latencies), 1) * 1000:4.2f} ms/req"
        return line


def median_result(rounds: list[Result]) -> Result:
    """The round with the median rate."""
    return sorted(rounds, key=lambda r: r.rate)[len(rounds) // 2]


async def drive(
    name: str,
    requests: int,
    concurrency: int,
    one: Callable[[int], Awaitable[None]],
    seconds: float | None = None,
) -> Result:
    """Run `requests` calls of `one(worker)` with `concurrency` workers; time each.
    With `seconds`, no call starts after that long."""
    latencies: list[float] = []
    remaining = requests
    deadline = time.perf_counter() + seconds if seconds is not None else float("inf")

    async def worker(index: int) -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            started = time.perf_counter()
            await one(index)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*[worker(i) for i in range(concurrency)])
    return Result(name, time.perf_counter() - started, latencies)


def creating(
    clients: list[RawHttpClient], tokens: list[str], title: str
) -> Callable[[int], Awaitable[None]]:
    """One create per call by worker n, on its own connection as its own user, with an
    Idempotency-Key as the web app, the SDK and the command line send one."""
    body = json.dumps({"title": title, "priority": "high", "tags": ["bench"]}).encode()

    async def one(worker: int) -> None:
        headers = {
            "content-type": "application/json",
            "authorization": f"Bearer {tokens[worker]}",
            "idempotency-key": str(uuid.uuid4()),
        }
        status, answer = await clients[worker].request("POST", "/api/tasks", body, headers)
        if status != 201:
            raise RuntimeError(f"{status}: {answer[:300]!r}")

    return one


async def bench_function(
    name: str,
    url: str,
    users: list[tuple[uuid.UUID, str]],
    args: argparse.Namespace,
    env: dict[str, str],
) -> Result:
    port = free_port()
    source = ROOT / "functions" / "create_task" / "main.py"
    process = start_function(
        "create_task", source, port, {"DATABASE_URL": url, "JWT_SECRET": JWT_SECRET, **env}
    )
    clients = [RawHttpClient(port) for _ in range(args.concurrency)]
    one = creating(clients, [token for _, token in users], "benchmark task")

    try:
        wait_until_serving(f"http://127.0.0.1:{port}/health")
        await drive("warm-up", args.requests // 10, args.concurrency, one)
        before = footprint.cpu_seconds(process.pid)
        result = await drive(name, args.requests, args.concurrency, one)
        result.cpu = footprint.cpu_seconds(process.pid) - before
        return result
    finally:
        for client in clients:
            await client.close()
        stop(process)


async def bench_bare_asyncpg(
    url: str,
    users: list[tuple[uuid.UUID, str]],
    args: argparse.Namespace,
    seconds: float | None = None,
) -> Result:
    """The create's one statement alone (the key's claim, the task and its event);
    `seconds` bounds the measured run as `drive` does."""
    pool = await asyncpg.create_pool(
        url, min_size=POOL_SIZE, max_size=POOL_SIZE, init=_init_connection
    )
    spec = TaskCreate(title="benchmark task", priority="high", tags=["bench"])
    try:

        async def one(worker: int) -> None:
            user_id = users[worker][0]
            now = datetime.now(UTC)
            task = new_task(uuid.uuid4(), spec, now)
            appending = Appending(announcing(user_id, task), "/functions/create_task", now)
            key = (str(uuid.uuid4()), idempotency.request_hash(spec), task_json(task))
            arguments = [*task_columns(task.id, user_id, spec, now), *key, *appending.arguments()]
            async with pool.acquire() as conn:
                await conn.fetch(CREATE_TASK, *arguments)

        await drive("warm-up", args.requests // 10, args.concurrency, one)
        return await drive(
            "bare asyncpg, same SQL (baseline)", args.requests, args.concurrency, one, seconds
        )
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with database() as url:
        users = asyncio.run(make_users(url, args.concurrency))
        # Everything on uvloop, as the function's server runs: asyncpg at its best for the
        # baseline, and the load generator as light as it gets for the function runs.
        baseline = uvloop.run(bench_bare_asyncpg(url, users, args))
        outbox_only = uvloop.run(
            bench_function("create_task, events left for the relay", url, users, args, {})
        )
        with fake_sidecar() as sidecar_port:
            publishing = uvloop.run(
                bench_function(
                    "create_task, publishing via a sidecar",
                    url,
                    users,
                    args,
                    {"DAPR_HTTP_PORT": str(sidecar_port)},
                )
            )
    print(
        f"create_tasks: {args.requests} requests, {args.concurrency} concurrent, {len(users)} users"
    )
    print(baseline.line())
    print(
        f"{outbox_only.line()}   ratio {outbox_only.rate / baseline.rate:.2f} "
        f"(target >= {TARGET:.2f})"
    )
    ratio = publishing.rate / baseline.rate
    print(f"{publishing.line()}   ratio {ratio:.2f} (target >= {TARGET:.2f})")
    both = min(outbox_only.rate, publishing.rate) / baseline.rate
    print(
        f"target: both create_task lines >= {TARGET:.2f} of bare asyncpg: "
        f"{'met' if both >= TARGET else 'missed'}"
    )


if __name__ == "__main__":
    main()
