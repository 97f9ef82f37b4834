"""The statements a Postgres server logged (`log_statement = all`), read back through SQL
from the log file the embedded server writes in its data folder (`pg_read_file('log')`,
which needs a superuser): for tests that count what reaches the database."""

from __future__ import annotations

import re

import asyncpg

_STATEMENT = re.compile(r"\[(\d+)\] LOG:  (statement|execute [^:]*):")
_ENTRY_START = re.compile(r"\n(?=\d{4}-\d\d-\d\d )")


class StatementLog:
    """Reads the log through `conn`, each call returning what was logged since the last;
    the statements of the session `ignore_pid` (the reader's own, if it is logged) are
    left out."""

    def __init__(self, conn: asyncpg.Connection, ignore_pid: int | None = None) -> None:
        self._conn = conn
        self._ignore_pid = ignore_pid
        self._read = 0

    async def statements(self) -> list[str]:
        text: str = await self._conn.fetchval("select pg_read_file('log')")
        fresh, self._read = text[self._read :], len(text)
        return [
            entry
            for entry in _ENTRY_START.split(fresh)
            if (found := _STATEMENT.search(entry)) and int(found[1]) != self._ignore_pid
        ]
