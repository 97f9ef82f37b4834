"""The embedded Postgres from the `pgserver` wheel, for `todo dev` and the tests."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import asyncpg


def start(data_dir: Path) -> Any:
    """Start (or attach to) the server whose files live in `data_dir`; stopped at exit."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SystemExit(
            "The embedded Postgres needs the 'local' extra: pip install -e '.[local]'. "
            "Or set DATABASE_URL to a Postgres you run."
        ) from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(data_dir.resolve(), cleanup_mode="stop")


async def ensure_database(server_url: str, name: str) -> None:
    """Create database `name` on the server unless it exists."""
    conn = await asyncpg.connect(server_url)
    try:
        exists = await conn.fetchval("select 1 from pg_database where datname = $1", name)
        if not exists:
            await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()
