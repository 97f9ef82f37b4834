"""Counting dateutil's work, so a test can bound it without timing it.

dateutil's rrule walks its schedule one FREQ period at a time, asking its private
`_iterinfo` for each period's days; counting those calls counts the periods walked,
whether or not they hold an occurrence. Past `budget` the count raises, so a test of an
unbounded search fails at once instead of after minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

_DAYSETS = ("ydayset", "mdayset", "wdayset", "ddayset")


class Periods:
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.walked = 0

    def step(self) -> None:
        self.walked += 1
        if self.walked > self.budget:
            raise AssertionError(f"dateutil walked more than {self.budget} periods")


@contextmanager
def periods_walked(monkeypatch: pytest.MonkeyPatch, budget: int) -> Iterator[Periods]:
    from dateutil import rrule

    periods = Periods(budget)

    def counted(method: Callable[..., Any]) -> Callable[..., Any]:
        def dayset(self: Any, *args: Any) -> Any:
            periods.step()
            return method(self, *args)

        return dayset

    with monkeypatch.context() as patch:
        for name in _DAYSETS:
            patch.setattr(rrule._iterinfo, name, counted(getattr(rrule._iterinfo, name)))
        yield periods
