"""The user's task commands: add, ls, show, edit, done, reopen, rm, search."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from todo_client import Client, Task
from todo_client.calls import TaskFilters
from todo_client.models import Status

from todo_cli import ids, render
from todo_cli.exits import USAGE, Failure
from todo_cli.session import signed_in
from todo_cli.times import read_time

OPEN: list[Status] = ["pending", "in_progress"]


def show_tasks(tasks: Sequence[Task], zone: str, as_json: bool) -> None:
    if as_json:
        print(render.as_json(tasks))
    else:
        now = datetime.now(UTC)
        print(render.task_table(tasks, now, zone, render.wants_colour(sys.stdout)))


def cmd_add(args: argparse.Namespace) -> int:
    with signed_in(args.server) as (session, client):
        text = " ".join(args.text)
        parsed = client.tasks.parse(text)
        task = client.tasks.create(text)
        if args.json:
            print(render.as_json(task))
            return 0
        zone = session.timezone
        reminders = [
            f"{render.duration(r.before)} before" if r.before else render.when(r.remind_at, zone)
            for r in parsed.reminders
        ]
        print(render.fields([("added", ids.short(task.id)), *render.about(task, zone)]))
        print(render.fields([("reminders", ", ".join(reminders) or "-")]))
        for ignored in parsed.ignored:
            print(f"note: {ignored.text!r} was not read: {ignored.reason}")
    return 0


def filters(args: argparse.Namespace, zone: str) -> TaskFilters:
    chosen: TaskFilters = {"sort": args.sort, "limit": 200}
    if args.status != "all":
        chosen["status"] = OPEN if args.status == "open" else args.status
    if args.priority:
        chosen["priority"] = args.priority
    if args.tag:
        chosen["tag"] = args.tag
    if args.due == "overdue":
        chosen["overdue"] = True
    elif args.due:
        today = datetime.combine(datetime.now(ZoneInfo(zone)).date(), time(), ZoneInfo(zone))
        days = 1 if args.due == "today" else 7
        chosen["due_after"] = today - timedelta(microseconds=1)
        chosen["due_before"] = today + timedelta(days=days)
    return chosen


def cmd_ls(args: argparse.Namespace) -> int:
    with signed_in(args.server) as (session, client):
        tasks = list(client.tasks.iterate(**filters(args, session.timezone)))
        show_tasks(tasks, session.timezone, args.json)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with signed_in(args.server) as (session, client):
        task = ids.task(client, args.id)
        reminders = list(client.reminders.iterate(task_id=task.id))
        if args.json:
            print(render.as_json({"task": task, "reminders": reminders}))
            return 0
        zone = session.timezone
        detail = render.task_detail(task, zone)
        if task.description:
            detail.append(("description", task.description))
        for reminder in reminders:
            state = "delivered" if reminder.delivered_at else "pending"
            at = render.when(reminder.remind_at, zone)
            detail.append(("reminder", f"{ids.short(reminder.id)}  {at}  {state}"))
        print(render.fields(detail))
    return 0


def changes(args: argparse.Namespace, client: Client) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    if args.title is not None:
        wanted["title"] = args.title
    if args.description is not None:
        wanted["description"] = args.description or None
    if args.priority is not None:
        wanted["priority"] = args.priority
    if args.tag is not None:
        wanted["tags"] = [tag for tag in args.tag if tag]
    if args.due is not None:
        wanted["due_at"] = None if args.due == "none" else read_time(client, args.due)
    if not wanted:
        raise Failure("nothing to change: give --title, --due, --priority, --tag ...", USAGE)
    return wanted


def cmd_edit(args: argparse.Namespace) -> int:
    with signed_in(args.server) as (_, client):
        task = ids.task(client, args.id)
        version = task.version if args.version is None else args.version
        updated = client.tasks.update(task, version, **changes(args, client))
        print(f"updated {ids.short(updated.id)} {updated.title} (version {updated.version})")
    return 0


def cmd_done(args: argparse.Namespace) -> int:
    with signed_in(args.server) as (_, client):
        task = client.tasks.complete(ids.task(client, args.id))
        print(f"completed {ids.short(task.id)} {task.title}")
    return 0


def cmd_reopen(args: argparse.Namespace) -> int:
    with signed_in(args.server) as (_, client):
        task = client.tasks.reopen(ids.task(client, args.id))
        print(f"reopened {ids.short(task.id)} {task.title}")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    with signed_in(args.server) as (_, client):
        task = ids.task(client, args.id)
        client.tasks.delete(task)
        print(f"deleted {ids.short(task.id)} {task.title}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    with signed_in(args.server) as (session, client):
        found = client.tasks.search(" ".join(args.text), limit=100)
        show_tasks(found, session.timezone, args.json)
    return 0
