"""Reminders and notifications: remind, snooze, notifications [read ID | read --all]."""

from __future__ import annotations

import argparse

from todo_cli import ids, render
from todo_cli.durations import iso_duration
from todo_cli.session import signed_in
from todo_cli.times import read_time


def cmd_remind(args: argparse.Namespace) -> int:
    with signed_in(args.server) as (session, client):
        task = ids.task(client, args.id)
        if args.before:
            reminder = client.reminders.add(task.id, before=iso_duration(args.before))
        else:
            reminder = client.reminders.add(task.id, remind_at=read_time(client, args.at))
        at = render.when(reminder.remind_at, session.timezone)
        print(f"reminder {ids.short(reminder.id)} for {task.title!r} at {at}")
    return 0


def cmd_snooze(args: argparse.Namespace) -> int:
    with signed_in(args.server) as (session, client):
        reminder = ids.unique(args.id, client.reminders.iterate(pending=True), "reminder")
        snoozed = client.reminders.snooze(reminder.id, minutes=args.minutes)
        at = render.when(snoozed.remind_at, session.timezone)
        print(f"reminder {ids.short(snoozed.id)} now at {at}")
    return 0


def cmd_notifications(args: argparse.Namespace) -> int:
    with signed_in(args.server) as (session, client):
        found = list(client.notifications.iterate(unread=True if args.unread else None))
        if args.json:
            print(render.as_json(found))
            return 0
        if not found:
            print("no notifications")
        for note in found:
            mark = " " if note.read_at else "*"
            at = render.when(note.created_at, session.timezone)
            print(f"{mark} {ids.short(note.id)}  {at}  {note.title}")
    return 0


def cmd_read(args: argparse.Namespace) -> int:
    with signed_in(args.server) as (_, client):
        if args.all:
            print(f"marked {client.notifications.read_all()} notification(s) read")
            return 0
        note = ids.unique(args.id, client.notifications.iterate(), "notification")
        client.notifications.read(note.id)
        print(f"read {ids.short(note.id)} {note.title}")
    return 0
