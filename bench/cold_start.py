"""Cold start: process start to the first 201 of create_task, against a hello world.

Both are started exactly as Knative starts the container's process:
`functions-framework --asgi --target ... --source ...`, from bytecode compiled ahead as the
image has it, and polled until they answer. create_task's first answer includes importing
the library, opening the database pool, checking the token and the insert; the publish to
the (stand-in) Dapr sidecar follows the answer. Target: at most 1.5x hello world.

    python -m bench.cold_start [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import statistics
import time
from pathlib import Path

from bench.harness import (
    JWT_SECRET,
    ROOT,
    RawHttpClient,
    database,
    fake_sidecar,
    free_port,
    make_users,
    met,
    start_function,
    stop,
)


async def first_answer(port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    """Poll until the server accepts a connection, then return the first status."""
    while True:
        client = RawHttpClient(port)
        try:
            return (await client.request("POST", path, body, headers))[0]
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            await asyncio.sleep(0.002)
        finally:
            await client.close()


def time_to_first_201(
    target: str, source: Path, env: dict[str, str], path: str, body: bytes, headers: dict[str, str]
) -> float:
    port = free_port()
    started = time.perf_counter()
    process = start_function(target, source, port, env)
    try:
        status = asyncio.run(first_answer(port, path, body, headers))
        elapsed = time.perf_counter() - started
    finally:
        stop(process)
    if status != 201:
        raise RuntimeError(f"{target} answered {status}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    # The image compiles every module at build time (Dockerfile: compileall); so does this.
    for folder in ("todo", "functions", "bench"):
        compileall.compile_dir(ROOT / folder, quiet=1)
    hello_times, create_times = [], []
    with database() as url, fake_sidecar() as sidecar_port:
        ((_, token),) = asyncio.run(make_users(url, 1))
        env = {"DATABASE_URL": url, "JWT_SECRET": JWT_SECRET, "DAPR_HTTP_PORT": str(sidecar_port)}
        headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
        body = json.dumps({"title": "first task after a cold start"}).encode()
        hello = ROOT / "bench" / "hello" / "main.py"
        create = ROOT / "functions" / "create_task" / "main.py"
        for _ in range(args.runs):  # interleaved, so drift hits both alike
            hello_times.append(time_to_first_201("hello", hello, {}, "/", b"", {}))
            create_times.append(
                time_to_first_201("create_task", create, env, "/api/tasks", body, headers)
            )
    hello_ms = statistics.median(hello_times) * 1000
    create_ms = statistics.median(create_times) * 1000
    print(f"cold_start: median of {args.runs} starts, process start to first 201")
    for name, median, runs in [
        ("hello world (functions-framework --asgi)", hello_ms, hello_times),
        ("create_task", create_ms, create_times),
    ]:
        print(f"{name:<42} {median:7.0f} ms   (min {min(runs) * 1000:.0f})")
    ratio = create_ms / hello_ms
    print(f"ratio create_task/hello: {ratio:.2f} (target <= 1.50): {met(ratio <= 1.50)}")


if __name__ == "__main__":
    main()
