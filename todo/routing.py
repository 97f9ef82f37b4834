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
    def __init__(self, routes: Iterable[tuple[str, str, Target]] = ()) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Target]] = []
        for method, path, target in routes:
            self.add(method, path, target)

    def add(self, method: str, path: str, target: Target) -> None:
        pattern, _, _ = compile_path(path)
        self._routes.append((method, pattern, target))

    def match(self, method: str, path: str) -> tuple[Target, dict[str, str]]:
        """The first route of `path` taking `method` (HEAD as GET) and its path parameters;
        MethodNotAllowed when the path has routes for other methods, else RouteNotFound."""
        if _CONTROL.search(path):
            raise RouteNotFound(f"no route for {method} {path!r}")
        allowed: list[str] = []
        for route_method, pattern, target in self._routes:
            found = pattern.match(path)
            if found is None:
                continue
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
        return sorted({method for method, pattern, _ in self._routes if pattern.match(path)})
