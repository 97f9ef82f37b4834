"""The embedded Postgres: the version it reports, and a data folder of another version."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from todo import embedded_postgres


async def test_the_server_is_the_major_version_the_package_names(server_url: str) -> None:
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("TEST_DATABASE_URL names a server of its own, not the embedded one")
    conn = await asyncpg.connect(server_url)
    try:
        number = int(await conn.fetchval("show server_version_num"))
    finally:
        await conn.close()
    assert str(number // 10000) == embedded_postgres.major_version()


def test_a_folder_from_an_older_postgres_is_named_and_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "postgres"
    folder.mkdir(parents=True)
    (folder / "PG_VERSION").write_text("16\n")
    (folder / "base").mkdir()
    (folder / "base" / "user-data").write_text("rows")
    before = sorted((p.relative_to(folder), p.stat().st_mtime_ns) for p in folder.rglob("*"))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATA_DIR"] = str(tmp_path / "data")

    done = subprocess.run(
        [sys.executable, "-m", "todo_cli", "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    said = done.stderr.strip().splitlines()[-1]
    assert said.startswith(
        f"The embedded Postgres is PostgreSQL {embedded_postgres.major_version()}, "
        f"but {folder} holds PostgreSQL 16's files, which it cannot open; nothing was changed."
    )
    assert f"mv {folder} {folder}-16" in said
    assert "README.md" in said
    after = sorted((p.relative_to(folder), p.stat().st_mtime_ns) for p in folder.rglob("*"))
    assert after == before
