"""Opaque page cursors: base64url JSON that only this API reads back."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from todo.errors import InvalidInput


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError):
        raise bad_cursor() from None
    if not isinstance(position, dict):
        raise bad_cursor()
    return position


def bad_cursor(reason: str = "not a cursor this API issued") -> InvalidInput:
    return InvalidInput.single("cursor", reason)
