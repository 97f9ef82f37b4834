"""Apply `sql/NNN_name.sql` files in order, once each, one transaction per file.

Each file's transaction takes an advisory lock first, so concurrent runs (two pods, or
`todo dev` and the tests) wait for each other instead of racing; the later one then
finds the file recorded and moves on.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
# Any constant works; this one spells "todo" in ASCII.
ADVISORY_LOCK_KEY = 0x746F646F
_FILE_NAME = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def load_migrations(directory: Path = SQL_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_name.sql")
        found.append(Migration(match[1], match[2], path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number in {directory}")
    return found


async def migrate(
    database_url: str, directory: Path = SQL_DIR, *, statement_cache_size: int = 100
) -> list[str]:
    """Apply pending migrations; return the versions applied by this call."""
    migrations = load_migrations(directory)
    conn = await asyncpg.connect(database_url, statement_cache_size=statement_cache_size)
    try:
        return [m.version for m in migrations if await _apply(conn, m)]
    finally:
        await conn.close()


async def _apply(conn: asyncpg.Connection, migration: Migration) -> bool:
    """Apply one migration unless it is recorded; True if this call applied it.

    The lock is transaction-scoped, so this also works through a transaction-mode
    connection pooler (PgBouncer, Neon's pooled endpoint), where a session lock is not.
    """
    async with conn.transaction():
        await conn.execute("select pg_advisory_xact_lock($1)", ADVISORY_LOCK_KEY)
        await conn.execute(
            """
            create table if not exists schema_migrations (
                version     text primary key,
                name        text not null,
                checksum    text not null,
                applied_at  timestamptz not null default now()
            )
            """
        )
        recorded = await conn.fetchval(
            "select checksum from schema_migrations where version = $1", migration.version
        )
        if recorded is not None:
            if recorded != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version}_{migration.name} was changed after it "
                    "was applied; add a new migration instead"
                )
            return False
        await conn.execute(migration.sql)
        await conn.execute(
            "insert into schema_migrations (version, name, checksum) values ($1, $2, $3)",
            migration.version,
            migration.name,
            migration.checksum,
        )
    log.info("applied migration", extra={"migration": f"{migration.version}_{migration.name}"})
    return True
