"""A moment as a person types it, read in the account's time zone by the server's quick-add
parser ("tomorrow 9am", "fri 17:00"), or an RFC 3339 time with its offset."""

from __future__ import annotations

from datetime import datetime

from todo_client import Client

from todo_cli.exits import USAGE, Failure


def read_time(client: Client, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        if moment.tzinfo is not None:
            return moment
    due = client.tasks.parse(text).due_at
    if due is None:
        raise Failure(f"cannot read a time in {text!r} (say 'tomorrow 9am' or 'fri 17:00')", USAGE)
    return due
