"""The realtime service under many idle sockets and a burst of events.

One realtime process (uvicorn, one worker, as deployed) takes 5,000 authenticated
websocket connections for 1,000 users (five devices each); then 5,000 events are pushed
to it as the Dapr sidecar would (POST /events), five per user, each fanned out to that
user's five sockets. Reports the server's memory per idle connection, the connection
setup rate, and event-to-client latency (the event's time to its arrival at a client).
Targets: under 30 KB per idle connection; p99 under 100 ms on this machine.

    python -m bench.realtime [--connections N] [--users U] [--events E]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.harness import (
    JWT_SECRET,
    ROOT,
    RawHttpClient,
    database,
    free_port,
    make_users,
    met,
    percentile,
    stop,
    wait_until_serving,
)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def start_realtime(url: str, port: int) -> subprocess.Popen[bytes]:
    """`python -m realtime`, the service's own entry point, as the container runs it."""
    env = {"DATABASE_URL": url, "JWT_SECRET": JWT_SECRET, "LOG_LEVEL": "WARNING", "PORT": str(port)}
    return subprocess.Popen([sys.executable, "-m", "realtime"], env={**os.environ, **env}, cwd=ROOT)


async def open_all(
    port: int, tokens: list[str], parallel: int = 200
) -> tuple[list[ClientConnection], float]:
    """Connect every token's socket and wait for each one's first sync; time it all."""
    sockets: list[ClientConnection] = []
    gate = asyncio.Semaphore(parallel)

    async def one(token: str) -> None:
        async with gate:
            ws = await connect(
                f"ws://127.0.0.1:{port}/ws",
                subprotocols=[Subprotocol("bearer"), Subprotocol(token)],
                open_timeout=60,
                ping_interval=None,
                max_queue=None,
            )
            first = json.loads(await ws.recv())
            assert first["type"] == "sync", first
            sockets.append(ws)

    started = time.perf_counter()
    await asyncio.gather(*(one(t) for t in tokens))
    return sockets, time.perf_counter() - started


async def listen(ws: ClientConnection, expected: int, latencies: list[float]) -> None:
    for _ in range(expected):
        message = json.loads(await ws.recv())
        sent = datetime.fromisoformat(message["time"])
        latencies.append((datetime.now(UTC) - sent).total_seconds())


async def publish(port: int, users: list[uuid.UUID], per_user: int, parallel: int) -> float:
    """Push per_user events for every user, like the sidecar; return the seconds it took.

    Each user's events go in order through one connection (Dapr keys the partition by
    user), so an event never arrives before the one that precedes it."""
    lanes = min(parallel, len(users))
    bodies: list[list[dict[str, object]]] = [[] for _ in range(lanes)]
    for seq in range(1, per_user + 1):
        for i, user in enumerate(users):
            bodies[i % lanes].append(
                {
                    "specversion": "1.0",
                    "id": str(uuid.uuid4()),
                    "type": "todo.task.updated",
                    "source": "/functions/update_task",
                    "subject": str(uuid.uuid4()),
                    "userid": str(user),
                    "sequence": seq,
                    "topic": "task.events",
                    "data": {"task": {"title": "benchmark"}},
                }
            )
    clients = [RawHttpClient(port) for _ in range(lanes)]

    async def lane(client: RawHttpClient, events: list[dict[str, object]]) -> None:
        for event in events:
            event["time"] = datetime.now(UTC).isoformat()
            status, answer = await client.request(
                "POST", "/events", json.dumps(event).encode(),
                {"content-type": "application/cloudevents+json"},
            )  # fmt: skip
            if status != 200:
                raise RuntimeError(f"{status}: {answer[:200]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(lane(c, b) for c, b in zip(clients, bodies, strict=True)))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.close()
    return elapsed


async def run(url: str, args: argparse.Namespace) -> None:
    accounts = await make_users(url, args.users)
    users = [user for user, _ in accounts]
    tokens = [accounts[i % len(accounts)][1] for i in range(args.connections)]
    port = free_port()
    server = start_realtime(url, port)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/health")
        await asyncio.sleep(1)  # let start-up allocations settle before the baseline reading
        before = rss_kib(server.pid)
        sockets, setup_seconds = await open_all(port, tokens)
        await asyncio.sleep(1)
        after = rss_kib(server.pid)

        per_user = args.events // len(users)
        devices = args.connections // len(users)
        latencies: list[float] = []
        listeners = [asyncio.create_task(listen(ws, per_user, latencies)) for ws in sockets]
        publish_seconds = await publish(port, users, per_user, parallel=16)
        await asyncio.wait_for(asyncio.gather(*listeners), 120)
        for ws in sockets:
            await ws.close()
    finally:
        stop(server)

    per_connection = (after - before) * 1024 / len(sockets)
    print(
        f"realtime: {len(sockets)} connections for {len(users)} users ({devices} each), "
        f"{per_user * len(users)} events, {len(latencies)} pushes"
    )
    print(f"memory per idle connection     {per_connection / 1024:8.1f} KB   (target < 30 KB)")
    print(f"connection setup               {len(sockets) / setup_seconds:8.0f} /s   "
          f"({setup_seconds:.1f} s for all, authenticated and synced)")  # fmt: skip
    print(f"events published               {per_user * len(users) / publish_seconds:8.0f} /s")
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    print(f"event to client latency        p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   "
          f"max {max(latencies) * 1000:.1f} ms   (target p99 < 100 ms)")  # fmt: skip
    print(f"mean latency                   {statistics.mean(latencies) * 1000:8.1f} ms")
    kb = per_connection / 1024
    print(f"target: < 30 KB a connection and p99 < 100 ms: {met(kb < 30 and p99 < 100)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    with database() as url:
        uvloop.run(run(url, args))


if __name__ == "__main__":
    main()
