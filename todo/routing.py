"""Matching a method and a path to what serves them: one router for a function's own routes
and for `todo dev`, which routes every function's paths as the ingress does."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Generic, TypeVar

from starlette.routing import compile_path

from todo.errors import MethodNotAllowed, RouteNotFound

Target = TypeVar("Target")

# A path with a control character (an encoded newline, say) is no route of ours. It is
# refused here, as a problem: functions-framework's own router would answer it in plain
# text, since its catch-all pattern does not match across a newline.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Router(Generic[Target]):
    """Routes by method and path. A path that a route names literally belongs to the
    literal routes only (`/api/tasks/parse` is not `/api/tasks/{id}`), as the ingress's
    longer rule wins: another method on it is 405, not a task id."""

    def __init__(self, routes: Iterable[tuple[str, str, Target]] = ()) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Target, bool]] = []
        for method, path, target in routes:
            self.add(method, path, target)

    def add(self, method: str, path: str, target: Target) -> None:
        pattern, _, params = compile_path(path)
        self._routes.append((method, pattern, target, not params))

    def match(self, method: str, path: str) -> tuple[Target, dict[str, str]]:
        """The first route of `path` taking `method` (HEAD as GET) and its path parameters;
        MethodNotAllowed when the path has routes for other methods, else RouteNotFound."""
        if _CONTROL.search(path):
            raise RouteNotFound(f"no route for {method} {path!r}")
        allowed: list[str] = []
        for route_method, found, target in self._matching(path):
            if route_method == method or (method == "HEAD" and route_method == "GET"):
                return target, found.groupdict()
            allowed.append(route_method)
        if allowed:
            raise MethodNotAllowed(sorted(set(allowed)))
        raise RouteNotFound(f"no route for {method} {path}")

    def methods(self, path: str) -> list[str]:
        """The methods `path`'s routes take, sorted; none when no route has that path."""
        if _CONTROL.search(path):
            return []
        return sorted({method for method, _, _ in self._matching(path)})

    def _matching(self, path: str) -> list[tuple[str, re.Match[str], Target]]:
        """The routes whose pattern matches `path`: the literal ones if there are any."""
        found = [
            (method, match, target, literal)
            for method, pattern, target, literal in self._routes
            if (match := pattern.match(path)) is not None
        ]
        literal = [(m, match, t) for m, match, t, is_literal in found if is_literal]
        return literal or [(m, match, t) for m, match, t, _ in found]
