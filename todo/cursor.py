"""Opaque page cursors: base64url JSON that only this API reads back."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from todo import json_input
from todo.errors import InvalidInput
from todo.models import in_range


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError):
        raise bad_cursor() from None
    if not isinstance(position, dict) or json_input.problems(position):
        raise bad_cursor()
    return position


def bad_cursor(reason: str = "not a cursor this API issued") -> InvalidInput:
    return InvalidInput.single("cursor", reason)


def cursor_instant(value: Any) -> datetime:
    """A time read back from a cursor: aware, and inside the API's range."""
    if not isinstance(value, str):
        raise bad_cursor()
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return in_range(moment)
    except ValueError:
        raise bad_cursor() from None


def cursor_id(value: Any) -> UUID:
    """A row id read back from a cursor."""
    if not isinstance(value, str):
        raise bad_cursor()
    try:
        return UUID(value)
    except ValueError:
        raise bad_cursor() from None
