"""One folder per operation; each `<name>/main.py` defines the entry point `<name>`.

Deployed, functions-framework loads one of them from its file. `todo dev` and the tests
import them as modules of this package instead: functions-framework registers a source
file in sys.modules under its bare stem ("main"), so several loaded through it in one
process would collide.
"""

from __future__ import annotations

import importlib
from types import ModuleType

FUNCTIONS = (
    "auth",
    "create_task",
    "update_task",
    "query_tasks",
    "reminders",
    "notify",
    "process_event",
    "tick_reminders",
)


def load(name: str) -> ModuleType:
    return importlib.import_module(f"functions.{name}.main")


def app_id(name: str) -> str:
    """The Knative Service name and Dapr app-id of a function (DNS names take no "_")."""
    return name.replace("_", "-")
