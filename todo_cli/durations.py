"""Durations as a person types them ("30m", "2h", "1d", "1h30m") and as the API takes
them (ISO 8601: PT30M, PT2H, P1D, PT1H30M)."""

from __future__ import annotations

import re

from todo_cli.exits import USAGE, Failure

PART = re.compile(r"(\d+)\s*(d|h|m|min)", re.IGNORECASE)


def iso_duration(text: str) -> str:
    parts = PART.findall(text)
    if not parts or PART.sub("", text).strip():
        raise Failure(f"not a duration: {text!r} (say 30m, 2h, 1d or 1h30m)", USAGE)
    amounts = {"d": 0, "h": 0, "m": 0}
    for number, unit in parts:
        amounts[unit.lower()[0]] += int(number)
    days = f"{amounts['d']}D" if amounts["d"] else ""
    clock = "".join(f"{amounts[u]}{u.upper()}" for u in ("h", "m") if amounts[u])
    return f"P{days}" + (f"T{clock}" if clock else "") if days or clock else "PT0M"
