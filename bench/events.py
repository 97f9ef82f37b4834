"""process_event throughput: task events through the real function, against bare asyncpg.

The function runs as deployed (`functions-framework --asgi`, one worker) and takes
todo.task.created CloudEvents as Dapr pushes them (structured, 32 at a time); each one
is parsed, checked, recorded as processed and written to the audit log in one
statement. The baseline runs the same SQL statements (imported from the consumer
modules) with bare asyncpg from one process. The two alternate for a few rounds and the
medians are compared, which evens out other load on the machine. Target: at least half.

    python -m bench.events [--events N] [--concurrency C] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import uvloop

from bench import footprint
from bench.create_tasks import Result, drive, median_result
from bench.harness import (
    ROOT,
    RawHttpClient,
    database,
    free_port,
    met,
    start_function,
    stop,
    wait_until_serving,
)
from todo.audit import INSERT_AUDIT, row
from todo.db import _init_connection
from todo.incoming import IncomingEvent
from todo.settings import Settings

POOL_SIZE = Settings().db_pool_max


def task_events(user_id: uuid.UUID) -> Iterator[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    seq = 0
    while True:
        seq += 1
        # The task as create_task announces it: a payload that does not validate would be
        # dead-lettered, and the run would measure that instead.
        task: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "title": "benchmark task",
            "description": None,
            "status": "pending",
            "priority": "medium",
            "due_at": None,
            "completed_at": None,
            "tags": ["bench"],
            "metadata": {},
            "recurrence": None,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        yield {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "type": "todo.task.created",
            "source": "/functions/create_task",
            "subject": task["id"],
            "time": now,
            "datacontenttype": "application/json",
            "userid": str(user_id),
            "sequence": seq,
            "topic": "task.events",
            "pubsubname": "pubsub",
            "data": {"task": task},
        }


async def run(url: str, args: argparse.Namespace) -> tuple[Result, Result]:
    events = task_events(uuid.uuid4())
    port = free_port()
    source = ROOT / "functions" / "process_event" / "main.py"
    process = start_function(
        "process_event", source, port, {"DATABASE_URL": url, "JWT_SECRET": "x" * 32}
    )
    clients = [RawHttpClient(port) for _ in range(args.concurrency)]
    pool = await asyncpg.create_pool(
        url, min_size=POOL_SIZE, max_size=POOL_SIZE, init=_init_connection
    )
    headers = {"content-type": "application/cloudevents+json"}

    bodies: Iterator[bytes] = iter(())

    def prepare(count: int) -> None:
        """Serialize a round's events before it starts, to keep the load generator light."""
        nonlocal bodies
        bodies = iter([json.dumps(next(events)).encode() for _ in range(count)])

    async def through_function(worker: int) -> None:
        status, answer = await clients[worker].request("POST", "/events", next(bodies), headers)
        if status != 200 or b"SUCCESS" not in answer:
            raise RuntimeError(f"{status}: {answer[:300]!r}")

    async def bare(worker: int) -> None:
        event = next(events)
        now = datetime.now(UTC)
        attributes = {name: value for name, value in event.items() if name != "data"}
        columns = [[value] for value in row(IncomingEvent(attributes, event["data"]))]
        async with pool.acquire() as conn:  # the claim and the row: one statement
            await conn.fetch(INSERT_AUDIT, "audit", [event["id"]], now, *columns)

    try:
        wait_until_serving(f"http://127.0.0.1:{port}/health")
        prepare(args.events // 5)
        await drive("warm-up", args.events // 5, args.concurrency, through_function)
        await drive("warm-up", args.events // 5, args.concurrency, bare)
        baseline, function = [], []
        for _ in range(args.rounds):
            baseline.append(
                await drive(
                    "bare asyncpg, same SQL (baseline)", args.events, args.concurrency, bare
                )
            )
            prepare(args.events)
            # The server closes connections idle for 5 s (uvicorn's keep-alive), as they
            # were while the baseline ran: open fresh ones.
            for client in clients:
                await client.close()
            before = footprint.cpu_seconds(process.pid)
            function.append(
                await drive(
                    "process_event (functions-framework --asgi)",
                    args.events,
                    args.concurrency,
                    through_function,
                )
            )
            function[-1].cpu = footprint.cpu_seconds(process.pid) - before
        async with pool.acquire() as conn:
            refused = await conn.fetchval("select count(*) from dead_letters")
        if refused:
            raise RuntimeError(f"{refused} events were dead-lettered: the run measured that")
        return median_result(baseline), median_result(function)
    finally:
        for client in clients:
            await client.close()
        await pool.close()
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with database() as url:
        # uvloop throughout: asyncpg at its best, and the lightest load generator.
        baseline, function = uvloop.run(run(url, args))
    print(
        f"events: task.created deliveries, {args.concurrency} concurrent, "
        f"median of {args.rounds} rounds of {args.events}"
    )
    print(baseline.line().replace("req/s", "ev/s "))
    print(function.line().replace("req/s", "ev/s "))
    ratio = function.rate / baseline.rate
    print(f"ratio function/baseline: {ratio:.2f} (target >= 0.50): {met(ratio >= 0.50)}")


if __name__ == "__main__":
    main()
