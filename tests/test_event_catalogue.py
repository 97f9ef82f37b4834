"""The event catalogue is the contract: every type is documented, travels on a topic
someone takes, and its JSON is what clients have always read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import yaml

from deploy import ROOT
from todo.event_types import TaskCreated, TaskUpdated, catalogue
from todo.events import topic_of
from todo.reminder_events import DueTask, ReminderDue
from todo.reminder_models import Reminder
from todo.task_models import Task


def test_every_event_type_is_documented_for_users_and_clients() -> None:
    readme = (ROOT / "README.md").read_text()
    realtime = (ROOT / "docs" / "realtime.md").read_text()
    for event_type in catalogue():
        short = event_type.removeprefix("todo.")
        verb = short.rpartition(".")[2]
        assert f"`{short}`" in readme or f"`.{verb}`" in readme, event_type
        assert f"`{short}`" in realtime, event_type


def test_every_topic_reaches_the_realtime_service() -> None:
    subscriptions = list(yaml.safe_load_all((ROOT / "dapr" / "subscriptions.yaml").read_text()))
    to_realtime = {s["spec"]["topic"] for s in subscriptions if "realtime" in s["scopes"]}
    assert {topic_of(t) for t in catalogue()} <= to_realtime


def test_payloads_keep_the_wire_form_clients_read() -> None:
    now = datetime(2026, 3, 2, 9, 30, 0, 250000, tzinfo=UTC)
    task = Task(
        id=uuid4(),
        title="t",
        description=None,
        status="pending",
        priority="high",
        due_at=now,
        completed_at=None,
        tags=["home"],
        metadata={"k": [1]},
        recurrence=None,
        version=1,
        created_at=now,
        updated_at=now,
    )
    assert TaskCreated(task=task).data() == {"task": task.model_dump(mode="json")}
    updated = TaskUpdated(task=task, changed=["title"], previous={"title": "s"}).data()
    assert list(updated) == ["task", "changed", "previous"]
    reminder = Reminder(
        id=uuid4(),
        task_id=task.id,
        remind_at=now,
        before=timedelta(minutes=30),
        message=None,
        delivered_at=None,
        created_at=now,
    )
    due = ReminderDue(reminder=reminder, task=DueTask(id=task.id, title="t", due_at=now)).data()
    assert due["task"] == {
        "id": str(task.id),
        "title": "t",
        "due_at": "2026-03-02T09:30:00.250000Z",
    }
    assert due["reminder"]["before"] == "PT30M"
