"""Reading tasks: filtered, sorted keyset pages, and ranked full-text search.

Pages use keyset cursors on (sort key, id): stable under inserts and deletes, and exact
when many tasks share a sort key, because the id breaks every tie.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from todo.cursor import bad_cursor, cursor_id, cursor_instant, decode_cursor, encode_cursor
from todo.db import Connection
from todo.paging import Params
from todo.query_models import SearchQuery, TaskListQuery
from todo.tasks import COLUMNS, task_document


@dataclass(frozen=True)
class SortKey:
    expression: str
    descending: bool
    sql_type: str
    nullable: bool
    parse: Callable[[Any], Any]
    # How the cursor reads the last row's value, when not the expression itself.
    value: str | None = None


def _datetime(value: Any) -> datetime:
    return cursor_instant(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not text")
    return value


def _priority(value: Any) -> str:
    if value not in ("low", "medium", "high", "urgent"):
        raise ValueError("not a priority")
    return str(value)


SORTS: dict[str, SortKey] = {
    "due_at": SortKey("due_at", False, "timestamptz", True, _datetime),
    "-due_at": SortKey("due_at", True, "timestamptz", True, _datetime),
    # The enum column sorts in rank order (the bare name would be COLUMNS' text alias);
    # its value crosses the wire as text (see tasks.COLUMNS).
    "priority": SortKey(
        "tasks.priority", False, "text::task_priority", False, _priority, "priority::text"
    ),
    "-priority": SortKey(
        "tasks.priority", True, "text::task_priority", False, _priority, "priority::text"
    ),
    "created_at": SortKey("created_at", False, "timestamptz", False, _datetime),
    "-created_at": SortKey("created_at", True, "timestamptz", False, _datetime),
    "title": SortKey("lower(title)", False, "text", False, _text),
    "-title": SortKey("lower(title)", True, "text", False, _text),
}


_LAST_WORD = re.compile(r"(?:^|\s)([^\W_]+)\s*$")


def text_query(q: str, params: Params) -> str:
    """A tsquery for `q` in web search syntax, with its last word also matched as a prefix.

    Typing "groc" finds "groceries": the last bare word matches any English stem or
    plain word it begins. Quoted phrases, -exclusions and `or` stay as websearch reads them.
    """
    match = _LAST_WORD.search(q)
    prefixable = match and q.count('"') % 2 == 0 and match[1].lower() != "or"
    if not match or not prefixable:
        return f"websearch_to_tsquery('english', {params.add(q)})"
    head_words = q[: match.start(1)].split()
    joiner = "&&"
    if head_words and head_words[-1].lower() == "or":
        joiner, head_words = "||", head_words[:-1]
    head = params.add(" ".join(head_words))
    word = params.add(match[1] + ":*")
    return (
        f"(websearch_to_tsquery('english', {head}) {joiner} "
        f"(to_tsquery('english', {word}) || to_tsquery('simple', {word})))"
    )


def list_statement(user_id: UUID, query: TaskListQuery, now: datetime) -> tuple[str, list[Any]]:
    """The SQL of one list page and its parameters: one row past the page, to tell if
    there is more, and each row's sort value for the next cursor."""
    params = Params(user_id)
    where = ["user_id = $1"]
    if query.status:
        where.append(f"status = any({params.add(query.status, 'text[]::task_status[]')})")
    if query.priority:
        where.append(f"priority = any({params.add(query.priority, 'text[]::task_priority[]')})")
    if query.tag:
        where.append(f"tags @> {params.add(query.tag, 'text[]')}")
    if query.due_before is not None:
        where.append(f"due_at < {params.add(query.due_before)}")
    if query.due_after is not None:
        where.append(f"due_at > {params.add(query.due_after)}")
    if query.overdue is not None:
        overdue = f"(due_at < {params.add(now)} and status <> 'completed')"
        where.append(overdue if query.overdue else f"not coalesce({overdue}, false)")
    if query.q:
        where.append(f"search @@ {text_query(query.q, params)}")

    key = SORTS[query.sort]
    if query.cursor:
        where.append(_after_cursor(key, query.sort, query.cursor, params))
    direction = "desc" if key.descending else "asc"
    sql = f"""
        select {COLUMNS}, {key.value or key.expression} as sort_value
        from tasks
        where {" and ".join(where)}
        order by {key.expression} {direction} nulls last, id {direction}
        limit {params.add(query.limit + 1)}
        """
    return sql, params.values


async def list_tasks(
    conn: Connection, user_id: UUID, query: TaskListQuery, now: datetime
) -> dict[str, Any]:
    """A TaskPage as its JSON document (see tasks.task_document)."""
    sql, args = list_statement(user_id, query, now)
    rows = await conn.fetch(sql, *args)
    page, more = rows[: query.limit], len(rows) > query.limit
    next_cursor = None
    if more:
        last = page[-1]
        value = last["sort_value"]
        next_cursor = encode_cursor(
            {
                "sort": query.sort,
                "value": value.isoformat() if isinstance(value, datetime) else value,
                "id": str(last["id"]),
            }
        )
    return {"items": [task_document(r) for r in page], "next_cursor": next_cursor}


def _after_cursor(key: SortKey, sort: str, cursor: str, params: Params) -> str:
    """The condition for rows after the cursor's position in this sort order."""
    position = decode_cursor(cursor)
    if position.get("sort") != sort:
        raise bad_cursor("the cursor belongs to a different sort; start again without it")
    last_id = cursor_id(position.get("id"))
    try:
        value = None if position.get("value") is None else key.parse(position["value"])
    except (TypeError, ValueError):
        raise bad_cursor() from None
    if value is None and not key.nullable:
        raise bad_cursor()
    expr = key.expression
    after = "<" if key.descending else ">"
    id_ref = params.add(last_id, "uuid")
    if value is None:
        # Nulls sort last: after a null only nulls remain, ordered by id.
        return f"({expr} is null and id {after} {id_ref})"
    value_ref = params.add(value, key.sql_type)
    row_after = f"({expr}, id) {after} ({value_ref}, {id_ref})"
    return f"({row_after} or {expr} is null)" if key.nullable else row_after


async def search_tasks(conn: Connection, user_id: UUID, query: SearchQuery) -> dict[str, Any]:
    """A SearchPage as its JSON document (see tasks.task_document)."""
    params = Params(user_id)
    tsquery = text_query(query.q, params)
    cursor_condition = "true"
    if query.cursor:
        position = decode_cursor(query.cursor)
        last_id = cursor_id(position.get("id"))
        rank = position.get("rank")
        if not isinstance(rank, float | int) or isinstance(rank, bool) or not math.isfinite(rank):
            raise bad_cursor()
        rank_ref = params.add(rank, "real")
        cursor_condition = (
            f"(rank < {rank_ref} or (rank = {rank_ref} and id > {params.add(last_id, 'uuid')}))"
        )
    rows = await conn.fetch(
        f"""
        with q as (select {tsquery} as query),
        hits as (
            select {COLUMNS}, ts_rank(search, q.query) as rank
            from tasks, q
            where user_id = $1 and search @@ q.query
        )
        select * from hits
        where {cursor_condition}
        order by rank desc, id
        limit {params.add(query.limit + 1)}
        """,
        *params.values,
    )
    page, more = rows[: query.limit], len(rows) > query.limit
    next_cursor = None
    if more:
        next_cursor = encode_cursor({"rank": page[-1]["rank"], "id": str(page[-1]["id"])})
    items = [task_document(r) | {"rank": r["rank"]} for r in page]
    return {"items": items, "next_cursor": next_cursor}
