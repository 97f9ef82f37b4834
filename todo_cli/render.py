"""What a user's command prints: tables with short ids and relative dates, one task in
full, and JSON for scripts. Colour only on a terminal, and never with NO_COLOR set."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from todo_client import Task

from todo_cli.ids import short

PRIORITY_COLOUR = {"urgent": "1;31", "high": "31", "medium": "", "low": "2"}
DONE = {"completed": "x", "in_progress": ">", "pending": " "}


def wants_colour(stream: TextIO) -> bool:
    """https://no-color.org: any non-empty NO_COLOR turns colour off."""
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def paint(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text


def local(when: datetime, zone: str) -> datetime:
    return when.astimezone(ZoneInfo(zone))


def relative(when: datetime, now: datetime, zone: str) -> str:
    """ "in 2 h", "5 min ago", "tomorrow", "yesterday", "in 3 days", else the date."""
    delta = when - now
    seconds = abs(delta.total_seconds())
    ahead = delta >= timedelta(0)
    if seconds < 60:
        return "now"
    if seconds < 3600:
        amount = f"{round(seconds / 60)} min"
    elif seconds < 6 * 3600:
        amount = f"{round(seconds / 3600)} h"
    else:
        days = (local(when, zone).date() - local(now, zone).date()).days
        if days == 0:
            return f"today {local(when, zone):%H:%M}"
        if days == 1:
            return f"tomorrow {local(when, zone):%H:%M}"
        if days == -1:
            return "yesterday"
        if abs(days) < 7:
            amount, ahead = f"{abs(days)} days", days > 0
        else:
            return f"{local(when, zone):%Y-%m-%d}"
    return f"in {amount}" if ahead else f"{amount} ago"


def task_table(tasks: Sequence[Task], now: datetime, zone: str, colour: bool) -> str:
    if not tasks:
        return "no tasks"
    rows = [("ID", "", "PRIORITY", "DUE", "TITLE", "TAGS")]
    for task in tasks:
        due = relative(task.due_at, now, zone) if task.due_at else ""
        tags = " ".join(f"#{tag}" for tag in task.tags)
        rows.append(
            (short(task.id), f"[{DONE[task.status]}]", task.priority, due, task.title, tags)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]]
        if index and colour:
            task = tasks[index - 1]
            cells[2] = paint(cells[2], PRIORITY_COLOUR[task.priority], colour)
            if task.due_at and task.due_at < now and task.status != "completed":
                cells[3] = paint(cells[3], "31", colour)
            cells[5] = paint(cells[5], "36", colour)
        elif not index:
            cells = [paint(cell, "1", colour) for cell in cells]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def when(moment: datetime | None, zone: str) -> str:
    return f"{local(moment, zone):%Y-%m-%d %H:%M %Z}" if moment else "-"


def duration(iso: str) -> str:
    """An ISO 8601 duration as typed: PT30M is 30m, P1DT2H is 1d2h."""
    return iso.removeprefix("P").replace("T", "").lower()


def fields(pairs: Iterable[tuple[str, str]]) -> str:
    return "\n".join(f"{name + ':':<12} {value}" for name, value in pairs)


def about(task: Task, zone: str) -> list[tuple[str, str]]:
    """What quick add understood, and the heart of `show`."""
    return [
        ("title", task.title),
        ("due", when(task.due_at, zone)),
        ("tags", " ".join(f"#{tag}" for tag in task.tags) or "-"),
        ("priority", task.priority),
        ("repeats", task.recurrence.rrule if task.recurrence else "-"),
    ]


def task_detail(task: Task, zone: str) -> list[tuple[str, str]]:
    return [
        ("id", task.id),
        *about(task, zone),
        ("status", task.status),
        ("version", str(task.version)),
    ]


def plain(value: Any) -> Any:
    """An SDK model as JSON-ready data: dataclasses as objects, times as RFC 3339."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def as_json(value: Any) -> str:
    return json.dumps(plain(value), indent=2)
