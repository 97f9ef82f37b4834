"""Traefik v3 router rules, parsed and evaluated for the matchers this repository uses.

A rule such as ``Path(`/api/tasks`) && Method(`GET`)`` becomes a predicate over a request
(method, path). Traefik picks, among the routes whose rule matches, the one with the highest
priority, which is the route's `priority` or, when unset, the length of its rule.
Unsupported matchers are an error, not a guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

Predicate = Callable[[str, str], bool]


class RuleError(ValueError):
    pass


_TOKEN = re.compile(r"\s*(?:(&&|\|\||!|\(|\)|,)|(`[^`]*`)|([A-Za-z]+))")


def _tokens(rule: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    rule = rule.rstrip()
    while position < len(rule):
        match = _TOKEN.match(rule, position)
        if not match:
            raise RuleError(f"cannot read the rule at {rule[position:]!r}")
        tokens.append(match.group(match.lastindex or 0))
        position = match.end()
    return tokens


def _matcher(name: str, args: list[str]) -> Predicate:
    if name == "Method":
        (method,) = args
        return lambda m, p: m == method.upper()
    if name == "Path":
        (path,) = args
        return lambda m, p: p == path
    if name == "PathPrefix":
        (prefix,) = args
        return lambda m, p: p.startswith(prefix)
    if name == "PathRegexp":
        (pattern,) = args
        compiled = re.compile(pattern)
        return lambda m, p: compiled.search(p) is not None
    raise RuleError(f"matcher {name} is not supported here")


class _Parser:
    def __init__(self, rule: str) -> None:
        self.tokens = _tokens(rule)
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise RuleError(f"expected {expected or 'more'}, found {token}")
        self.at += 1
        return token

    def parse(self) -> Predicate:
        predicate = self.either()
        if self.peek() is not None:
            raise RuleError(f"unexpected {self.peek()}")
        return predicate

    def either(self) -> Predicate:
        parts = [self.both()]
        while self.peek() == "||":
            self.take()
            parts.append(self.both())
        return parts[0] if len(parts) == 1 else lambda m, p: any(x(m, p) for x in parts)

    def both(self) -> Predicate:
        parts = [self.unary()]
        while self.peek() == "&&":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else lambda m, p: all(x(m, p) for x in parts)

    def unary(self) -> Predicate:
        token = self.peek()
        if token == "!":
            self.take()
            inner = self.unary()
            return lambda m, p: not inner(m, p)
        if token == "(":
            self.take()
            inner = self.either()
            self.take(")")
            return inner
        name = self.take()
        if not name.isalpha():
            raise RuleError(f"expected a matcher, found {name}")
        self.take("(")
        args: list[str] = []
        while True:
            argument = self.take()
            if not argument.startswith("`"):
                raise RuleError(f"{name}: arguments are `quoted`")
            args.append(argument[1:-1])
            if self.peek() == ",":
                self.take()
                continue
            break
        self.take(")")
        try:
            return _matcher(name, args)
        except ValueError as exc:
            if isinstance(exc, RuleError):
                raise
            raise RuleError(f"{name} takes one argument here") from None


def parse(rule: str) -> Predicate:
    return _Parser(rule).parse()


@dataclass(frozen=True)
class Route:
    """One route of an IngressRoute, as Traefik ranks it."""

    ingress: str
    index: int
    rule: str
    priority: int
    matches: Predicate
    services: tuple[tuple[str, str], ...]  # (kind, name)
    middlewares: tuple[str, ...]


def winners(routes: list[Route], method: str, path: str) -> list[Route]:
    """The matching routes that share the highest priority (more than one is ambiguous)."""
    matching = [r for r in routes if r.matches(method, path)]
    if not matching:
        return []
    top = max(r.priority for r in matching)
    return [r for r in matching if r.priority == top]
