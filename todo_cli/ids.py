"""Ids as a person types them: any unique prefix of at least four characters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from todo_client import Client, Task

from todo_cli.exits import NOT_FOUND, USAGE, Failure

SHORT = 8  # characters of an id shown in lists
MINIMUM = 4
FULL = 36  # a UUID as the API writes it


class HasId(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=HasId)


def short(full_id: str) -> str:
    return full_id[:SHORT]


def unique(given: str, items: Iterable[T], kind: str = "task") -> T:
    """The one item whose id starts with `given`; a usage error names every match when
    several do, and none is not found."""
    prefix = given.strip().lower()
    if len(prefix) < MINIMUM:
        raise Failure(f"give at least {MINIMUM} characters of the {kind} id", USAGE)
    matches = [item for item in items if item.id.startswith(prefix)]
    if not matches:
        raise Failure(f"no {kind} with an id starting {prefix!r}", NOT_FOUND)
    if len(matches) > 1:
        listed = "\n".join(f"  {item.id}  {_label(item)}" for item in matches)
        raise Failure(
            f"{prefix!r} matches {len(matches)} {kind}s; give more of the id:\n{listed}", USAGE
        )
    return matches[0]


def _label(item: HasId) -> str:
    return str(getattr(item, "title", ""))


def task(client: Client, given: str) -> Task:
    """The task `given` names: a whole id is fetched, a prefix is looked up among all."""
    if len(given) == FULL:
        return client.tasks.get(given.lower())
    return unique(given, client.tasks.iterate(limit=200))
