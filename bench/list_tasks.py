"""GET /api/tasks?limit=50 throughput and latency, against the same SQL done with bare asyncpg.

A few users each own a few hundred tasks with the fields real ones have (descriptions,
tags, metadata with non-ASCII text, due dates, some recurring, some completed). The
function runs as deployed (`functions-framework --asgi`, one worker) and answers each
request with its first page of 50: HTTP, auth, query validation, the read and the JSON.
The baseline runs the function's own SQL (built by the same code, not copied) from one
process with a pool of the same size and no HTTP: the 51 rows fetched and decoded, nothing
more. Like the other benchmarks' baselines its pool resets each connection on release; a
second line shows a pool that skips that round trip, as the function's does. They
alternate for a few rounds and the medians are compared, which evens out other load on
the machine. Target: the function reaches at least half the baseline's rate.

    python -m bench.list_tasks [--requests N] [--concurrency C] [--rounds R] [--tasks T]
                               [--seconds S]
"""

from __future__ import annotations

import argparse
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import uvloop

from bench.create_tasks import Result, drive, median_result
from bench.harness import (
    JWT_SECRET,
    ROOT,
    RawHttpClient,
    database,
    free_port,
    make_users,
    start_function,
    stop,
    wait_until_serving,
)
from todo.db import _init_connection, _keep_session
from todo.query_models import TaskListQuery
from todo.settings import Settings
from todo.task_queries import list_statement
from todo.tasks import INSERT_TASK

POOL_SIZE = Settings().db_pool_max
PAGE = 50
TARGET = 0.50
USERS = 4

TAGS = ["home", "work", "errands", "urgent", "reading", "garden", "tax", "café"]
RECURRENCES = [
    {"rrule": "FREQ=WEEKLY", "timezone": None, "mode": "due"},
    {"rrule": "FREQ=MONTHLY;BYMONTHDAY=1", "timezone": "Europe/Paris", "mode": "completion"},
]


async def seed_tasks(url: str, users: list[tuple[uuid.UUID, str]], per_user: int) -> None:
    """`per_user` tasks for each user, with every field shape a page can carry."""
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for user_id, _ in users:
        for i in range(per_user):
            created = start + timedelta(minutes=i, microseconds=rng.randrange(1_000_000))
            status = rng.choice(["pending", "pending", "in_progress", "completed"])
            rows.append(
                (
                    uuid.uuid4(), user_id, f"Task {i}: call the plumber about the boiler",
                    rng.choice([None, "Ask about the quote; bring the warranty card."]),
                    status, rng.choice(["low", "medium", "high", "urgent"]),
                    rng.choice([None, created + timedelta(days=rng.randrange(1, 60))]),
                    created if status == "completed" else None,
                    rng.sample(TAGS, rng.randrange(0, 4)),
                    rng.choice([{}, {"source": "import", "note": "für Ärger — 日本語"}]),
                    rng.choice([None, None, None, *RECURRENCES]),
                    created,
                )
            )  # fmt: skip
    conn = await asyncpg.connect(url)
    try:
        await _init_connection(conn)
        await conn.executemany(INSERT_TASK, rows)
    finally:
        await conn.close()


async def run(
    url: str, users: list[tuple[uuid.UUID, str]], args: argparse.Namespace
) -> tuple[Result, Result, Result]:
    port = free_port()
    source = ROOT / "functions" / "query_tasks" / "main.py"
    process = start_function(
        "query_tasks", source, port, {"DATABASE_URL": url, "JWT_SECRET": JWT_SECRET}
    )
    clients = [RawHttpClient(port) for _ in range(args.concurrency)]
    # As in bench/create_tasks and bench/events: asyncpg's pool as it comes, whose release
    # resets the session (a round trip). The function skips that reset (db._keep_session),
    # so a second baseline skips it too, for comparison.
    pool = await asyncpg.create_pool(
        url, min_size=POOL_SIZE, max_size=POOL_SIZE, init=_init_connection
    )
    pool_no_reset = await asyncpg.create_pool(
        url, min_size=POOL_SIZE, max_size=POOL_SIZE, init=_init_connection, reset=_keep_session
    )
    query = TaskListQuery(limit=PAGE)
    now = datetime.now(UTC)
    statements = [list_statement(user_id, query, now) for user_id, _ in users]

    async def through_function(worker: int) -> None:
        headers = {"authorization": f"Bearer {users[worker % len(users)][1]}"}
        status, answer = await clients[worker].request(
            "GET", f"/api/tasks?limit={PAGE}", headers=headers
        )
        if status != 200 or answer.count(b'"version"') != PAGE:
            raise RuntimeError(f"{status}: {answer[:300]!r}")

    def bare(pool: asyncpg.Pool) -> Callable[[int], Awaitable[None]]:
        async def one(worker: int) -> None:
            sql, values = statements[worker % len(users)]
            async with pool.acquire() as conn:
                rows = await conn.fetch(sql, *values)
            if len(rows) != PAGE + 1:
                raise RuntimeError(f"{len(rows)} rows")

        return one

    try:
        wait_until_serving(f"http://127.0.0.1:{port}/health")
        warm_up = max(args.requests // 5, args.concurrency)
        await drive("warm-up", warm_up, args.concurrency, through_function)
        await drive("warm-up", warm_up, args.concurrency, bare(pool))
        await drive("warm-up", warm_up, args.concurrency, bare(pool_no_reset))
        baseline: list[Result] = []
        no_reset: list[Result] = []
        function: list[Result] = []
        for _ in range(args.rounds):
            baseline.append(
                await drive(
                    "bare asyncpg, same SQL (baseline)",
                    args.requests,
                    args.concurrency,
                    bare(pool),
                    args.seconds,
                )
            )
            no_reset.append(
                await drive(
                    "bare asyncpg, same SQL, no reset on release",
                    args.requests,
                    args.concurrency,
                    bare(pool_no_reset),
                    args.seconds,
                )
            )
            # The server closes connections idle for 5 s (uvicorn's keep-alive), as they
            # were while the baseline ran: open fresh ones.
            for client in clients:
                await client.close()
            function.append(
                await drive(
                    "query_tasks (functions-framework --asgi)",
                    args.requests,
                    args.concurrency,
                    through_function,
                    args.seconds,
                )
            )
        return median_result(baseline), median_result(no_reset), median_result(function)
    finally:
        for client in clients:
            await client.close()
        await pool.close()
        await pool_no_reset.close()
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=300, help="tasks per user")
    parser.add_argument("--seconds", type=float, default=20.0, help="at most, per round")
    args = parser.parse_args()
    if args.tasks <= PAGE:
        parser.error(f"--tasks must be over {PAGE}, so every page is full")
    with database() as url:
        users = uvloop.run(make_users(url, USERS))
        uvloop.run(seed_tasks(url, users, args.tasks))
        # uvloop throughout: asyncpg at its best, and the lightest load generator.
        baseline, no_reset, function = uvloop.run(run(url, users, args))
    ratio = function.rate / baseline.rate
    print(
        f"list_tasks: pages of {PAGE} from {args.tasks} tasks, {len(users)} users, "
        f"{args.concurrency} concurrent, median of {args.rounds} rounds of {args.requests}"
    )
    print(baseline.line())
    print(f"{no_reset.line()}   function/this {function.rate / no_reset.rate:.2f}")
    print(function.line())
    verdict = "met" if ratio >= TARGET else "missed"
    print(f"ratio function/baseline: {ratio:.2f} (target >= {TARGET:.2f}) {verdict}")


if __name__ == "__main__":
    main()
