"""Does the after-commit publisher keep up with the function's own write rate?

create_task runs as deployed (`functions-framework --asgi`, gunicorn with one uvicorn
worker) publishing through a stand-in Dapr sidecar (bench/sidecar.py, which records each
event's arrival and, like daprd, keeps no order inside one bulk request), while this
process runs the tick's relay every second as the cluster's cron does. Load comes at the
function's full rate for `--seconds`; then the run waits for the outbox to empty and stops
the function with SIGTERM. Measured: the publish lag (event time to arrival at the sidecar)
beside the create rate, the events the relay sent again (duplicates), and the arrivals of
a user's event after a later one of theirs (inversions).
Target: lag p99 < 1 s, 0 duplicates, 0 inversions, nothing missing.

    python -m bench.publish [--seconds S] [--concurrency C] [--max-requests N] [--lanes L]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import uvloop

from bench.harness import (
    JWT_SECRET,
    ROOT,
    RawHttpClient,
    database,
    fake_sidecar,
    free_port,
    make_users,
    percentile,
    sidecar_log,
    start_function,
    stop,
    wait_until_serving,
)
from todo.dapr import DaprPublisher
from todo.db import Database
from todo.relay import relay_outbox
from todo.settings import Settings

TARGET_LAG_P99 = 1.0


async def create_load(
    port: int, users: list[tuple[uuid.UUID, str]], seconds: float, max_requests: int
) -> tuple[int, float]:
    """POST /api/tasks from one client per user until time or count runs out."""
    body = json.dumps({"title": "publish bench", "tags": ["bench"]}).encode()
    clients = [RawHttpClient(port) for _ in users]
    sent = 0
    deadline = time.monotonic() + seconds

    async def worker(index: int) -> None:
        nonlocal sent
        headers = {
            "content-type": "application/json",
            "authorization": f"Bearer {users[index][1]}",
        }
        while time.monotonic() < deadline and sent < max_requests:
            sent += 1
            status, answer = await clients[index].request("POST", "/api/tasks", body, headers)
            if status != 201:
                raise RuntimeError(f"{status}: {answer[:300]!r}")

    started = time.monotonic()
    try:
        await asyncio.gather(*(worker(i) for i in range(len(users))))
    finally:
        for client in clients:
            await client.close()
    return sent, time.monotonic() - started


async def relay_every_second(settings: Settings, stopping: asyncio.Event) -> int:
    """The tick's relay, as the cron binding runs it; returns how many it sent."""
    db = Database(settings)
    publisher = DaprPublisher(settings)
    relayed = 0
    try:
        while not stopping.is_set():
            relay = await relay_outbox(
                db,
                publisher,
                datetime.now(UTC),
                older_than=timedelta(seconds=settings.relay_after_seconds),
            )
            relayed += relay.sent
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 1.0)
    finally:
        await publisher.close()
        await db.close()
    return relayed


async def unpublished(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        count: int = await conn.fetchval("select count(*) from events where published_at is null")
        return count
    finally:
        await conn.close()


async def outbox_ids(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        return {str(r["id"]) for r in await conn.fetch("select id from events")}
    finally:
        await conn.close()


async def run(url: str, sidecar: int, args: argparse.Namespace) -> dict[str, Any]:
    users = await make_users(url, args.concurrency)
    settings = Settings(database_url=url, dapr_http_port=sidecar, db_pool_max=2)
    port = free_port()
    process = start_function(
        "create_task",
        ROOT / "functions" / "create_task" / "main.py",
        port,
        {
            "DATABASE_URL": url,
            "JWT_SECRET": JWT_SECRET,
            "DAPR_HTTP_PORT": str(sidecar),
            "PUBLISH_CONCURRENCY": str(args.lanes),
        },
    )
    stopping = asyncio.Event()
    relay = asyncio.create_task(relay_every_second(settings, stopping))
    try:
        await asyncio.to_thread(wait_until_serving, f"http://127.0.0.1:{port}/health")
        created, seconds = await create_load(port, users, args.seconds, args.max_requests)
        # Let the publisher (and, for anything it left, the relay) finish.
        settle_until = time.monotonic() + settings.relay_after_seconds + 5
        while await unpublished(url) and time.monotonic() < settle_until:  # noqa: ASYNC110
            await asyncio.sleep(0.2)  # polling another process's database, no event to await
    finally:
        await asyncio.to_thread(stop, process)
        stopping.set()
        relayed = await relay
    return {
        "created": created,
        "seconds": seconds,
        "relayed": relayed,
        "ids": await outbox_ids(url),
        "log": await asyncio.to_thread(sidecar_log, sidecar),
    }


def measure(outcome: dict[str, Any]) -> dict[str, Any]:
    log: list[dict[str, Any]] = outcome["log"]
    seen: set[str] = set()
    lags: list[float] = []
    highest: dict[str, int] = {}
    inversions = 0
    for entry in log:
        if entry["id"] in seen:
            continue
        seen.add(entry["id"])
        occurred = datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp()
        lags.append(entry["arrived"] - occurred)
        user, seq = entry["userid"], entry["sequence"]
        if seq < highest.get(user, 0):
            inversions += 1
        highest[user] = max(highest.get(user, 0), seq)
    copies = Counter(entry["id"] for entry in log)
    return {
        "lags": lags or [0.0],
        "duplicates": sum(n - 1 for n in copies.values()),
        "inversions": inversions,
        "missing": len(outcome["ids"] - seen),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-requests", type=int, default=30_000)
    parser.add_argument("--lanes", type=int, default=Settings().publish_concurrency)
    args = parser.parse_args()
    with database() as url, fake_sidecar() as sidecar:
        outcome = uvloop.run(run(url, sidecar, args))
    found = measure(outcome)
    create_rate = outcome["created"] / outcome["seconds"]
    p50, p99 = percentile(found["lags"], 50), percentile(found["lags"], 99)
    print(
        f"publish: {outcome['created']} tasks created in {outcome['seconds']:.1f} s by "
        f"{args.concurrency} users, {args.lanes} publishing lanes, against a stand-in sidecar"
    )
    print(f"create rate (baseline)          {create_rate:8.0f} events/s")
    print(f"publish lag                     p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms")
    print(f"relayed by the tick             {outcome['relayed']:8d}")
    print(f"relay duplicates                {found['duplicates']:8d}")
    print(f"per-user order inversions       {found['inversions']:8d}")
    print(f"missing at the sidecar          {found['missing']:8d}")
    met = (
        p99 < TARGET_LAG_P99
        and found["duplicates"] == 0
        and found["inversions"] == 0
        and found["missing"] == 0
    )
    print(
        f"target: lag p99 < {TARGET_LAG_P99:.0f} s, 0 duplicates, 0 inversions, 0 missing: "
        f"{'met' if met else 'missed'}"
    )


if __name__ == "__main__":
    main()
