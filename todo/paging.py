"""Building list queries: bound parameters, and pages ordered by a time and the id.

A keyset page continues after the last (time, id) it showed, so it stays exact while
rows are added, and the id settles ties between rows of the same time.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from todo.cursor import cursor_id, cursor_instant, decode_cursor, encode_cursor
from todo.db import Connection


class Params:
    """Positional SQL parameters: `add` binds a value and returns its placeholder."""

    def __init__(self, *initial: Any) -> None:
        self.values: list[Any] = list(initial)

    def add(self, value: Any, sql_type: str | None = None) -> str:
        self.values.append(value)
        placeholder = f"${len(self.values)}"
        return f"{placeholder}::{sql_type}" if sql_type else placeholder


async def time_ordered_page(
    conn: Connection,
    *,
    select: str,
    where: list[str],
    params: Params,
    time_column: str,
    descending: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[asyncpg.Record], str | None]:
    """Up to `limit` rows of `select` (a SELECT ... FROM) in (time, id) order, and the
    cursor for the next page (None after the last)."""
    conditions = list(where)
    if cursor:
        position = decode_cursor(cursor)
        moment, last_id = cursor_instant(position.get("at")), cursor_id(position.get("id"))
        after = "<" if descending else ">"
        conditions.append(
            f"({time_column}, id) {after} ({params.add(moment)}, {params.add(last_id)})"
        )
    direction = "desc" if descending else "asc"
    rows = await conn.fetch(
        f"""
        {select} where {" and ".join(conditions)}
        order by {time_column} {direction}, id {direction} limit {params.add(limit + 1)}
        """,
        *params.values,
    )
    page = rows[:limit]
    if len(rows) <= limit:
        return page, None
    last = page[-1]
    return page, encode_cursor({"at": last[time_column].isoformat(), "id": str(last["id"])})
