"""`todo export` and `todo import`: every task of the account as one JSON document, and
back. An import sends each task with an Idempotency-Key made from its exported id, so
running it again (after an interruption, say) creates nothing twice."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from todo_client.calls import TaskFields

from todo_cli import render
from todo_cli.exits import USAGE, Failure
from todo_cli.session import signed_in

FORMAT = "todo-export/1"


def cmd_export(args: argparse.Namespace) -> int:
    with signed_in(args.server) as (session, client):
        tasks = list(client.tasks.iterate(sort="created_at", limit=200))
        document = {
            "format": FORMAT,
            "account": session.saved.email,
            "exported_at": datetime.now(UTC),
            "tasks": tasks,
        }
        text = render.as_json(document) + "\n"
    if args.output:
        Path(args.output).write_text(text)
        print(f"exported {len(tasks)} task(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def read_document(source: str) -> list[dict[str, Any]]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        document = json.loads(text)
    except (OSError, ValueError) as exc:
        raise Failure(f"cannot read {source}: {exc}", USAGE) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise Failure(f"{source} is not a `todo export` document ({FORMAT})", USAGE)
    tasks: list[dict[str, Any]] = document["tasks"]
    return tasks


def fields(exported: dict[str, Any]) -> TaskFields:
    due = exported.get("due_at")
    recurrence = exported.get("recurrence")
    return {
        "title": exported["title"],
        "description": exported.get("description"),
        "status": exported.get("status", "pending"),
        "priority": exported.get("priority", "medium"),
        "due_at": datetime.fromisoformat(due) if due else None,
        "tags": exported.get("tags", []),
        "metadata": exported.get("metadata", {}),
        # Unset parts of a rule are left out rather than sent as null.
        "recurrence": {k: v for k, v in recurrence.items() if v is not None}
        if recurrence
        else None,
    }


def cmd_import(args: argparse.Namespace) -> int:
    exported = read_document(args.file)
    with signed_in(args.server) as (_, client):
        for task in exported:
            client.tasks.create(idempotency_key=f"import-{task['id']}", **fields(task))
    print(f"imported {len(exported)} task(s) from {args.file}")
    return 0
