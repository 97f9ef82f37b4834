"""JSON from outside: what Postgres or the pipeline cannot hold is refused, by field.

`json.loads` takes things no field can keep: NUL characters (Postgres text and jsonb refuse
them), NaN and numbers that overflow to infinity (jsonb refuses them), integers too long to
print (Python refuses past 4,300 digits), and nesting deep enough to exhaust the stack.
Each would surface as a 500 far from the request; here each becomes a field error naming
where it was found.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NamedTuple

from todo.errors import FieldError

MAX_DEPTH = 32
MAX_INT_DIGITS = 300
NUL = "\x00"
NO_NUL = "must not contain NUL characters (\\u0000)"


class Refused(NamedTuple):
    """A value `loads` read but no field may hold; `problems` reports it where it sits."""

    reason: str


class TooDeep(ValueError):
    def __init__(self, field: str) -> None:
        super().__init__(f"{field}: nested deeper than {MAX_DEPTH} levels")
        self.field = field


def _constant(name: str) -> Refused:
    return Refused(f"{name} is not a number JSON allows")


def _integer(text: str) -> int | Refused:
    if len(text) > MAX_INT_DIGITS:
        return Refused(f"integers have at most {MAX_INT_DIGITS} digits")
    return int(text)


def _number(text: str) -> float | Refused:
    value = float(text)
    return value if math.isfinite(value) else Refused("number out of range")


def loads(raw: bytes | str) -> Any:
    """Parse JSON, marking refused numbers for `problems`; TooDeep past the stack's depth,
    ValueError for text that is not JSON."""
    try:
        return json.loads(raw, parse_constant=_constant, parse_int=_integer, parse_float=_number)
    except RecursionError:
        raise TooDeep(_deep_field(raw)) from None


def problems(value: Any, path: tuple[str | int, ...] = ()) -> list[FieldError]:
    """Every place in a parsed JSON value that no field may hold."""
    found: list[FieldError] = []
    _walk(value, path, found)
    return found


def _name(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path) or "body"


def _walk(value: Any, path: tuple[str | int, ...], found: list[FieldError]) -> None:
    if len(path) > MAX_DEPTH:
        found.append(FieldError(_name(path[:1]), f"nested deeper than {MAX_DEPTH} levels"))
    elif isinstance(value, str):
        if NUL in value:
            found.append(FieldError(_name(path), NO_NUL))
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                found.append(FieldError(_name(path), f"keys {NO_NUL}"))
            _walk(item, (*path, key), found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, (*path, index), found)
    elif isinstance(value, Refused):
        found.append(FieldError(_name(path), value.reason))
    elif isinstance(value, float) and not math.isfinite(value):
        found.append(FieldError(_name(path), "must be a finite number"))


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:]')


def _deep_field(raw: bytes | str) -> str:
    """The top-level field whose value nests too deep (only read when parsing failed)."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    depth, key, last = 0, "body", ""
    for token in _TOKEN.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return key
        elif mark in "]}":
            depth -= 1
        elif mark == ":" and depth == 1 and last.startswith('"'):
            key = json.loads(last)
        last = mark
    return key
