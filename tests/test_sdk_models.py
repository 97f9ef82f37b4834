"""The SDK's models say what `todo/openapi.json` says: every field, its type, whether it may
be null and whether it is always sent. A schema change that the SDK misses fails here."""

from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING, fields, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from todo_client import models
from todo_client.models import Notification, Page, Reminder, Task, field_types

DOCUMENT = json.loads((Path(__file__).resolve().parent.parent / "todo/openapi.json").read_text())
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]

# Each schema and the model that reads it.
MODELS: dict[str, Any] = {
    "Task": Task,
    "Recurrence": models.Recurrence,
    "Reminder": Reminder,
    "Notification": Notification,
    "TaskPage": Page[Task],
    "ReminderPage": Page[Reminder],
    "NotificationPage": Page[Notification],
    "User": models.User,
    "TokenPair": models.TokenPair,
    "Registered": models.Registered,
    "ParsedTask": models.ParsedTask,
    "ChangeFeed": models.ChangeFeed,
    "Problem": models.Problem,
}
NULL = {"type": "null"}
# The document's Problem leaves `required` out of its `errors` items, though
# todo/problems.py always writes both: the model reads them as always there.
ALWAYS_SENT = {"Problem.errors[].field", "Problem.errors[].message"}


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return resolve(SCHEMAS[ref.rsplit("/", 1)[1]]) if ref else schema


def non_null(tp: Any) -> tuple[Any, bool]:
    """The type without None, and whether None was allowed."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        rest = [a for a in args if a is not type(None)]
        assert len(rest) == 1, tp
        return rest[0], len(rest) < len(args)
    return tp, False


def mismatches(tp: Any, schema: dict[str, Any], where: str) -> list[str]:
    """What differs between a Python type and a (non-null) schema."""
    schema = resolve(schema)
    kind = schema.get("type")
    origin = typing.get_origin(tp)
    if "enum" in schema or "const" in schema:
        values = set(schema.get("enum", [schema.get("const")]))
        ok = origin is typing.Literal and set(typing.get_args(tp)) == values
        return [] if ok else [f"{where}: {tp} is not one of {sorted(values)}"]
    if kind == "string":
        expected = datetime if schema.get("format") == "date-time" else str
        return [] if tp is expected else [f"{where}: {tp}, the schema says {expected.__name__}"]
    if kind in ("integer", "boolean"):
        number = int if kind == "integer" else bool
        return [] if tp is number else [f"{where}: {tp}, the schema says {kind}"]
    if kind == "array":
        if origin is not list:
            return [f"{where}: {tp} is not a list"]
        return mismatches(typing.get_args(tp)[0], schema["items"], f"{where}[]")
    if kind == "object" and "properties" in schema:
        if not is_dataclass(typing.get_origin(tp) or tp):
            return [f"{where}: {tp} is not a model"]
        return model_mismatches(tp, schema, where)
    if kind == "object":
        return [] if tp == dict[str, Any] else [f"{where}: {tp} is not dict[str, Any]"]
    return [f"{where}: the test does not know {schema}"]


def model_mismatches(model: Any, schema: dict[str, Any], where: str) -> list[str]:
    hints = field_types(model)
    properties: dict[str, Any] = schema["properties"]
    required = set(schema.get("required", [])) | {
        name for name in properties if f"{where}.{name}" in ALWAYS_SENT
    }
    found = [f"{where}.{name}: not in the schema" for name in sorted(hints.keys() - properties)]
    found += [f"{where}.{name}: missing" for name in sorted(properties.keys() - hints.keys())]
    defaults = {
        f.name: f.default
        for f in fields(typing.get_origin(model) or model)
        if f.default is not MISSING or f.default_factory is not MISSING
    }
    for name in sorted(hints.keys() & properties.keys()):
        prop, (tp, nullable) = properties[name], non_null(hints[name])
        variants = prop.get("anyOf", [prop])
        allows_null = NULL in variants
        (inner,) = [v for v in variants if v != NULL]
        if name in required and name in defaults:
            found.append(f"{where}.{name}: always sent, so it needs no default")
        if name not in required and name not in defaults:
            found.append(f"{where}.{name}: may be left out, so it needs a default")
        # A property the server may leave out may be None in the model, if that is its default.
        if nullable != (allows_null or (name in defaults and defaults[name] is None)):
            found.append(f"{where}.{name}: None is {'' if nullable else 'not '}allowed here")
        found += mismatches(tp, inner, f"{where}.{name}")
    return found


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_model_matches_the_openapi_schema(name: str) -> None:
    assert model_mismatches(MODELS[name], SCHEMAS[name], name) == []


def test_a_drifted_field_is_caught() -> None:
    drifted = json.loads(json.dumps(SCHEMAS["Task"]))
    drifted["properties"]["version"] = {"type": "string"}
    drifted["properties"]["archived"] = {"type": "boolean"}
    drifted["required"].append("archived")
    assert model_mismatches(Task, drifted, "Task") == [
        "Task.archived: missing",
        "Task.version: <class 'int'>, the schema says str",
    ]
