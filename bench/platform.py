"""The real platform on one machine (stack/): end-to-end latency, create throughput, and the
resident memory of every process at idle.

The stack runs every function as the image starts it behind its own daprd, over Kafka (SASL
SCRAM over TLS) or Redis, with two realtime instances, in a network namespace with only
loopback (the benchmark re-executes itself in one). Measured:

- latency from `POST /api/tasks` (create-task) to the `task.created` push on each of the
  user's websockets (one on each realtime instance), through daprd and the broker, at a fixed
  200 creates/s and then stepping the rate up until the stack no longer keeps up. The fixed
  run comes after `--warm-up-seconds` of the same load, not counted: the stack's first
  seconds under load (pools growing, statements prepared, the broker's JIT compiling) are a
  cold start's cost, which bench/cold_start.py measures, not a steady rate's. The load is
  an open loop: create n is due at start + n/rate and its latency counts from then, so a slow
  answer delays nothing that follows and hides nothing of its own;
- create throughput with the real sidecar, closed loop, against bare asyncpg running the same
  SQL on the same Postgres (bench/create_tasks.py's baseline);
- resident memory per process at idle, beside each container's request and limit
  (bench/footprint.py): the evidence behind `task budget`.

Target: p99 < 250 ms at 200 creates/s on Kafka.

    python -m bench.platform [--quick] [--broker kafka|redis] [--seconds S]
        [--warm-up-seconds S] [--step-seconds S]
        [--step R] [--max-rate R] [--users U] [--concurrency C] [--requests N]
        [--throughput-seconds S] [--idle-seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bench import footprint
from bench.create_tasks import Result, bench_bare_asyncpg, creating, drive
from bench.harness import RawHttpClient, met, percentile
from realtime.protocol import encode
from stack.isolation import exec_isolated, isolated
from stack.platform import PlatformStack

TARGET_RATE = 200
TARGET_P99 = 0.250
# "Keeps up": the achieved rate within 5% of the offered one, p99 under a second, every create
# answered 201 and every push delivered.
KEEP_UP_SHARE = 0.95
KEEP_UP_P99 = 1.0
# How long pushes may still arrive after the last create's answer: a late push counts with
# its full latency; one later than this is missing. Waiting also keeps a run's stragglers
# from loading the next run.
DRAIN_SECONDS = 60.0
REQUEST_SECONDS = 10.0
MAX_CONNECTIONS = 256
IDLE_SECONDS = 1.0
PASSWORD = "correct horse battery staple"
TITLE = "platform bench "


@dataclass(frozen=True)
class User:
    id: str
    token: str


async def register(auth_url: str, count: int) -> list[User]:
    """Users signed up through the auth function, so their tokens are the stack's own."""
    gate = asyncio.Semaphore(4)  # scrypt is memory-hard: a few at a time

    async def one(http: httpx.AsyncClient) -> User:
        async with gate:
            response = await http.post(
                f"{auth_url}/api/auth/register",
                json={
                    "email": f"bench-{uuid.uuid4().hex[:10]}@example.com",
                    "password": PASSWORD,
                    "timezone": "UTC",
                },
            )
        response.raise_for_status()
        body = response.json()
        return User(body["user"]["id"], body["access_token"])

    async with httpx.AsyncClient(timeout=REQUEST_SECONDS) as http:
        return list(await asyncio.gather(*(one(http) for _ in range(count))))


class ClientPool:
    """Keep-alive connections to one port, opened as the offered load needs them, at most
    MAX_CONNECTIONS. A connection idle for IDLE_SECONDS is closed rather than reused, since
    the server may have closed it already (gunicorn's keep-alive is 2 s); one that failed is
    dropped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[RawHttpClient, float]] = []  # with when it was last used
        self.slots = asyncio.Semaphore(MAX_CONNECTIONS)

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[RawHttpClient]:
        async with self.slots:
            client = await self._take()
            try:
                yield client
            except BaseException:
                await client.close()
                raise
            self.idle.append((client, time.monotonic()))

    async def _take(self) -> RawHttpClient:
        while self.idle:
            client, used = self.idle.pop()
            if time.monotonic() - used < IDLE_SECONDS:
                return client
            await client.close()
        return RawHttpClient(self.port)

    async def close(self) -> None:
        while self.idle:
            await self.idle.pop()[0].close()


class Deliveries:
    """Creates due and the pushes they caused, matched by the number in the task's title.

    Both clocks are this process's `time.monotonic`: a create's due time and a push's arrival
    are read on the same machine by the same process."""

    def __init__(self, sockets: int, sockets_per_user: int) -> None:
        self.sockets = sockets
        self.sockets_per_user = sockets_per_user
        self.connected = 0
        self.all_connected = asyncio.Event()
        self.closes: Counter[str] = Counter()  # by close code, while the load ran
        self.due: dict[int, float] = {}
        self.arrived: dict[int, dict[int, float]] = {}  # create -> socket -> arrival
        self.failed: set[int] = set()  # creates not answered 201: no push is owed
        self.waiting: set[int] = set()
        self.settled = asyncio.Event()

    def expect(self, numbers: range) -> None:
        self.waiting = set(numbers)
        self._check()

    def give_up(self, number: int) -> None:
        self.failed.add(number)
        self.waiting.discard(number)
        self._check()

    async def follow(self, url: str, token: str, key: int) -> None:
        """One client's socket at `url` (ws://): read pushes and answer the heartbeat; when
        realtime closes it, count the code and come back from the last sequence seen, as a
        real client does. Runs until cancelled."""
        since: int | None = None
        while True:
            query = "" if since is None else f"?since={since}"
            try:
                async with connect(
                    f"{url}/ws{query}",
                    subprotocols=[Subprotocol("bearer"), Subprotocol(token)],
                    open_timeout=REQUEST_SECONDS,
                    max_queue=None,
                ) as socket:
                    async for raw in socket:
                        since = await self._read(socket, key, json.loads(raw), since)
                why = str(socket.close_code)
            except ConnectionClosed as error:
                why = str(error.rcvd.code) if error.rcvd else type(error).__name__
            except (OSError, TimeoutError) as error:
                why = type(error).__name__
            self.closes[why] += 1

    async def _read(
        self, socket: ClientConnection, key: int, message: dict[str, Any], since: int | None
    ) -> int | None:
        """Take one message; return the last sequence seen."""
        now = time.monotonic()
        if message["type"] == "ping":
            await socket.send(encode({"type": "pong"}))
            return since
        if message["type"] == "sync":
            events = message["events"]
            if since is None:  # the first message of the first connection
                self.connected += 1
                if self.connected == self.sockets:
                    self.all_connected.set()
        else:
            events = [message]
        for event in events:
            since = max(since or 0, event["seq"])
            if event["type"] == "task.created":
                self._arrive(key, event["data"]["task"]["title"], now)
        return since

    def _arrive(self, socket: int, title: str, now: float) -> None:
        if not title.startswith(TITLE):
            return
        number = int(title.removeprefix(TITLE))
        seen = self.arrived.setdefault(number, {})
        seen.setdefault(socket, now)  # a replay of a push already counted keeps the first
        if len(seen) == self.sockets_per_user:
            self.waiting.discard(number)
            self._check()

    def _check(self) -> None:
        if self.waiting:
            self.settled.clear()
        else:
            self.settled.set()

    def latencies(self, numbers: range) -> tuple[list[float], int]:
        """Every delivery's latency from its create's due time, and how many pushes owed
        (to creates answered 201) never came."""
        owed = [n for n in numbers if n not in self.failed]
        found = [at - self.due[n] for n in owed for at in self.arrived.get(n, {}).values()]
        return found, len(owed) * self.sockets_per_user - len(found)


@dataclass
class Step:
    """One open-loop run at a fixed offered rate."""

    offered: float
    seconds: float
    created: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # by status, or the error's name
    took: float = 0.0  # from the first create's due time to the last answer
    latencies: list[float] = field(default_factory=list)
    missing: int = 0

    @property
    def achieved(self) -> float:
        return self.created / max(self.seconds, self.took)

    def p(self, q: int) -> float:
        return percentile(self.latencies, q) if len(self.latencies) > 1 else float("inf")

    @property
    def kept_up(self) -> bool:
        return (
            self.achieved >= KEEP_UP_SHARE * self.offered
            and not self.failed
            and self.missing == 0
            and self.p(99) < KEEP_UP_P99
        )

    def _why(self) -> str:
        return (
            f" ({', '.join(f'{n} {why}' for why, n in self.failed.items())})" if self.failed else ""
        )

    def line(self) -> str:
        return (
            f"offered {self.offered:5.0f}/s for {self.seconds:.0f} s: achieved "
            f"{self.achieved:6.1f}/s   p50 {self.p(50) * 1000:7.1f} ms   "
            f"p99 {self.p(99) * 1000:7.1f} ms   failed {self.failed.total()}{self._why()}   "
            f"missing {self.missing}"
        )


class Load:
    """Creates for a set of users through create-task, numbered across every step."""

    def __init__(self, port: int, users: list[User], deliveries: Deliveries) -> None:
        self.pool = ClientPool(port)
        self.users = users
        self.deliveries = deliveries
        self.next_number = 0

    async def offer(self, rate: float, seconds: float) -> Step:
        """Start create n at start + n/rate whatever the earlier ones are doing."""
        count = int(rate * seconds)
        numbers = range(self.next_number, self.next_number + count)
        self.next_number += count
        self.deliveries.expect(numbers)
        step = Step(rate, seconds)
        start = time.monotonic() + 0.1
        running = []
        for i, n in enumerate(numbers):
            due = start + i / rate
            await asyncio.sleep(due - time.monotonic())
            self.deliveries.due[n] = due
            running.append(asyncio.create_task(self._create(n, step)))
        await asyncio.gather(*running)
        step.took = time.monotonic() - start
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.deliveries.settled.wait(), DRAIN_SECONDS)
        step.latencies, step.missing = self.deliveries.latencies(numbers)
        return step

    async def _create(self, n: int, step: Step) -> None:
        user = self.users[n % len(self.users)]
        body = json.dumps({"title": f"{TITLE}{n}", "tags": ["bench"]}).encode()
        headers = {
            "content-type": "application/json",
            "authorization": f"Bearer {user.token}",
            "idempotency-key": str(uuid.uuid4()),  # as every client of ours sends one
        }
        try:
            async with asyncio.timeout(REQUEST_SECONDS), self.pool.client() as client:
                status, _ = await client.request("POST", "/api/tasks", body, headers)
            why = str(status)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
            status, why = 0, type(error).__name__
        if status == 201:
            step.created += 1
        else:
            step.failed[why] += 1
            self.deliveries.give_up(n)


async def closed_loop(port: int, users: list[User], args: argparse.Namespace) -> Result:
    """`--concurrency` clients creating back to back for `--throughput-seconds`."""
    clients = [RawHttpClient(port) for _ in range(args.concurrency)]
    one = creating(clients, [user.token for user in users], "throughput")

    try:
        return await drive(
            "create-task behind daprd (closed loop)",
            args.requests,
            args.concurrency,
            one,
            args.throughput_seconds,
        )
    finally:
        for client in clients:
            await client.close()


@dataclass
class CpuUse:
    """CPU seconds each part of the stack, and this load generator, used over `wall` seconds."""

    wall: float
    seconds: dict[tuple[str, str], float]  # (kind, name) -> CPU seconds
    creates: int

    def lines(self) -> list[str]:
        available = self.wall * (os.cpu_count() or 1)
        lines = [
            f"CPU used during the {TARGET_RATE}/s run ({self.wall:.0f} s of wall time, "
            f"{available:.0f} CPU-s on {os.cpu_count()} CPUs), busiest first:"
        ]
        kinds: dict[str, float] = {}
        for (kind, _), used in self.seconds.items():
            kinds[kind] = kinds.get(kind, 0.0) + used
        for kind, used in sorted(kinds.items(), key=lambda item: -item[1]):
            busiest = max((k for k in self.seconds if k[0] == kind), key=self.seconds.__getitem__)
            lines.append(
                f"  {kind:<15} {used:6.1f} CPU-s ({100 * used / available:3.0f}%)   "
                f"busiest {busiest[1]} {self.seconds[busiest]:.1f} CPU-s"
            )
        lines.append("  by process, ms of CPU per create:")
        for (kind, name), used in sorted(self.seconds.items(), key=lambda item: -item[1]):
            lines.append(
                f"    {kind:<15} {name:<28} {used:6.1f} CPU-s   "
                f"{used / max(self.creates, 1) * 1000:5.2f} ms"
            )
        # Idle work (heartbeats, the brokers' and sidecars' own timers) is counted in too.
        stack = sum(used for kind, used in kinds.items() if kind != "load generator")
        per_create = stack / max(self.creates, 1)
        lines.append(
            f"the stack's CPU per create: {per_create * 1000:.1f} ms, so {TARGET_RATE} creates/s "
            f"needs {per_create * TARGET_RATE:.1f} CPUs of its own"
        )
        return lines


def cpu_used(parts: list[footprint.Part]) -> dict[tuple[str, str], float]:
    used = {(part.kind, part.name): footprint.cpu_seconds(part.pid) for part in parts}
    # This process alone: its tree would hold the whole stack, which it started.
    used["load generator", "bench.platform"] = time.process_time()
    return used


@dataclass
class Findings:
    users: int
    sockets: int
    closes: Counter[str]
    warm_up: Step
    fixed: Step
    cpu: CpuUse
    steps: list[Step]
    throughput: Result
    baseline: Result


async def run(
    stack: PlatformStack, parts: list[footprint.Part], args: argparse.Namespace
) -> Findings:
    users = await register(stack.instance("auth").url, args.users)
    realtime = stack.realtime()
    deliveries = Deliveries(len(users) * len(realtime), len(realtime))
    clients = [
        asyncio.create_task(
            deliveries.follow(instance.url.replace("http", "ws", 1), user.token, key)
        )
        for key, (user, instance) in enumerate(itertools.product(users, realtime))
    ]
    await asyncio.wait_for(deliveries.all_connected.wait(), REQUEST_SECONDS * 3)
    load = Load(stack.instance("create-task").ports.app, users, deliveries)
    try:
        warm_up = await load.offer(TARGET_RATE, args.warm_up_seconds)
        before, started = cpu_used(parts), time.monotonic()
        fixed = await load.offer(TARGET_RATE, args.seconds)
        after = cpu_used(parts)
        cpu = CpuUse(
            time.monotonic() - started, {k: after[k] - before[k] for k in after}, fixed.created
        )
        steps = []
        for rate in range(args.step, args.max_rate + 1, args.step):
            steps.append(await load.offer(rate, args.step_seconds))
            if not steps[-1].kept_up:
                break
        throughput = await closed_loop(stack.instance("create-task").ports.app, users, args)
        baseline = await bench_bare_asyncpg(
            stack.database_url,
            [(uuid.UUID(user.id), user.token) for user in users],
            args,
            args.throughput_seconds,
        )
    finally:
        await load.pool.close()
        for client in clients:
            client.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
    return Findings(
        len(users),
        deliveries.sockets,
        deliveries.closes,
        warm_up,
        fixed,
        cpu,
        steps,
        throughput,
        baseline,
    )


def report(broker: str, memory: list[footprint.Row], found: Findings) -> None:
    print(
        f"\nresident memory at idle, MiB (request and limit from the {broker} overlay's "
        "manifests; a tree's shared pages count once per process):"
    )
    for line in footprint.table(memory):
        print(f"  {line}")
    print(
        f"\nlatency, POST /api/tasks to the task.created push on each of the user's sockets "
        f"({found.users} users, {found.sockets} sockets on 2 realtime instances):"
    )
    print(f"  {found.warm_up.line()}   (warm-up, not counted)")
    print(f"  {found.fixed.line()}   (target p99 < {TARGET_P99 * 1000:.0f} ms)")
    for line in found.cpu.lines():
        print(f"  {line}")
    closes = ", ".join(f"{n} x {code}" for code, n in found.closes.items()) or "none"
    print(f"sockets closed by realtime (each came back with ?since=<last seq>): {closes}")
    print("stepping the rate up (keeps up: achieved >= 95% of offered, p99 < 1 s, none lost):")
    for step in found.steps:
        print(f"  {step.line()}   {'kept up' if step.kept_up else 'did not keep up'}")
    kept = [step for step in found.steps if step.kept_up]
    if kept:
        best = kept[-1]
        print(
            f"highest rate kept up: {best.offered:.0f} creates/s "
            f"(p50 {best.p(50) * 1000:.1f} ms, p99 {best.p(99) * 1000:.1f} ms)"
        )
    else:
        print("highest rate kept up: none of the steps")
    ratio = found.throughput.rate / found.baseline.rate
    print("\ncreate throughput, closed loop, on the stack's Postgres:")
    print(f"  {found.baseline.line()}")
    print(f"  {found.throughput.line()}   ratio {ratio:.2f}")
    ok = found.fixed.p(99) < TARGET_P99 and found.fixed.missing == 0
    where = "" if broker == "kafka" else f" (set for Kafka; this run is on {broker})"
    target = f"p99 < {TARGET_P99 * 1000:.0f} ms at {TARGET_RATE} creates/s on Kafka{where}"
    print(f"target: {target}: {met(ok)}")


# --quick: the whole stack on Redis (it starts fastest) at sizes that keep a run near 30 s,
# so tests/test_benchmarks.py shows the benchmark still works; its figures mean nothing.
QUICK = {
    "broker": "redis",
    "seconds": 2.0,
    "warm_up_seconds": 1.0,
    "step_seconds": 1.0,
    "max_rate": 100,
    "users": 4,
    "concurrency": 4,
    "requests": 200,
    "throughput_seconds": 2.0,
    "idle_seconds": 1.0,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run that shows it works")
    parser.add_argument("--broker", choices=["kafka", "redis"], default="kafka")
    parser.add_argument("--seconds", type=float, default=20.0, help="at the target's rate")
    parser.add_argument("--warm-up-seconds", type=float, default=10.0, help="before, uncounted")
    parser.add_argument("--step", type=int, default=100, help="creates/s added per step")
    parser.add_argument("--max-rate", type=int, default=1000)
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=20_000, help="closed loop's bound")
    parser.add_argument("--throughput-seconds", type=float, default=10.0)
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="settling before memory")
    if parser.parse_known_args()[0].quick:
        parser.set_defaults(**QUICK)
    args = parser.parse_args()
    if args.concurrency > args.users:
        parser.error("--concurrency may not exceed --users: each worker is one user")
    if not isolated():
        exec_isolated([sys.executable, "-m", "bench.platform", *sys.argv[1:]])
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"platform ({args.broker}): {os.cpu_count()} CPUs shared by the whole stack and this "
        f"load, load average {load} before start (the machine may be busy with other work)"
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-platform-") as folder,
        PlatformStack(Path(folder), args.broker) as stack,
    ):
        time.sleep(args.idle_seconds)
        parts = footprint.parts(stack)
        memory = footprint.measure(parts)
        found = uvloop.run(run(stack, parts, args))
    report(args.broker, memory, found)


if __name__ == "__main__":
    main()
