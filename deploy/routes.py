"""The public routes against the ingress: each lands on exactly the function that serves it.

The routes come from todo/openapi.json at the time the check runs (`x-function` names the
function serving each), so a route added there is checked without touching this file, plus
the websocket paths and the web app's, which OpenAPI does not describe. A function's
Knative Service is its name with `_` as `-`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from deploy import ROOT, traefik
from deploy.manifests import Resource

OPENAPI = ROOT / "todo" / "openapi.json"
# Not in OpenAPI: realtime's websocket upgrade paths.
WEBSOCKET_ROUTES = (("GET", "/ws", "realtime"), ("GET", "/ws/{user_id}", "realtime"))
# Nor is the web app, which realtime serves (todo/web_app.py): its page at any path outside
# /api and /ws, its hashed assets and the files at its top.
WEB_APP_ROUTES = (
    ("GET", "/", "realtime"),
    ("HEAD", "/", "realtime"),
    ("GET", "/tasks/{id}", "realtime"),
    ("GET", "/assets/index-{hash}.js", "realtime"),
    ("GET", "/sw.js", "realtime"),
    ("GET", "/manifest.webmanifest", "realtime"),
)
# Traefik builds a middleware per router, so each route takes exactly one rate limit, keyed on
# the client's address; the credential routes share one strict route of their own.
RATE_LIMIT_ROUTE = "ratelimit-route"
RATE_LIMIT_CREDENTIALS = "ratelimit-credentials"
CREDENTIAL_PATHS = frozenset({"/api/auth/login", "/api/auth/register", "/api/auth/password"})
HOST_MIDDLEWARE = "knative-host-"
_SAMPLE = "0b7d1c4e-5f6a-4b3c-9d2e-1f0a9b8c7d6e"


@dataclass(frozen=True)
class PublicRoute:
    method: str
    path: str
    function: str

    @property
    def service(self) -> str:
        return self.function.replace("_", "-")

    @property
    def sample_path(self) -> str:
        return re.sub(r"\{[^}/]+\}", _SAMPLE, self.path)


def public_routes(openapi: Path = OPENAPI) -> list[PublicRoute]:
    document = json.loads(openapi.read_text())
    found = [
        PublicRoute(method.upper(), path, str(operation["x-function"]))
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if isinstance(operation, dict) and "x-function" in operation
    ]
    return found + [PublicRoute(*route) for route in (*WEBSOCKET_ROUTES, *WEB_APP_ROUTES)]


def _of(resources: Iterable[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if r.get("kind") == kind]


def knative_services(resources: Iterable[Resource]) -> dict[str, Resource]:
    return {
        r["metadata"]["name"]: r
        for r in resources
        if r.get("kind") == "Service" and str(r.get("apiVersion")).startswith("serving.knative")
    }


def ingress_routes(resources: list[Resource]) -> dict[str, list[traefik.Route]]:
    """Every route, grouped by the entry point it listens on."""
    by_entry_point: dict[str, list[traefik.Route]] = {}
    for ingress in _of(resources, "IngressRoute"):
        spec = ingress["spec"]
        for index, route in enumerate(spec["routes"]):
            rule = route["match"]
            parsed = traefik.Route(
                ingress=ingress["metadata"]["name"],
                index=index,
                rule=rule,
                priority=int(route.get("priority") or len(rule)),
                matches=traefik.parse(rule),
                services=tuple(
                    (s.get("kind", "Service"), s["name"]) for s in route.get("services", [])
                ),
                middlewares=tuple(m["name"] for m in route.get("middlewares", [])),
            )
            for entry_point in spec.get("entryPoints", ["web", "websecure"]):
                by_entry_point.setdefault(entry_point, []).append(parsed)
    return by_entry_point


def _is_redirect(route: traefik.Route, middlewares: dict[str, Resource]) -> bool:
    return route.services == (("TraefikService", "noop@internal"),) and any(
        "redirectScheme" in middlewares.get(name, {}).get("spec", {}) for name in route.middlewares
    )


def _rate_limits(middlewares: dict[str, Resource]) -> dict[str, Resource]:
    return {n: m for n, m in middlewares.items() if "rateLimit" in m.get("spec", {})}


def check_rate_limits(resources: list[Resource]) -> list[str]:
    """Each rate limit keys on the client's address; the credential limit is one route's."""
    middlewares = {m["metadata"]["name"]: m for m in _of(resources, "Middleware")}
    problems = [
        f"Middleware {name}: must key on the client's address (sourceCriterion.ipStrategy "
        "without a depth)"
        for name, middleware in _rate_limits(middlewares).items()
        if set(middleware["spec"]["rateLimit"].get("sourceCriterion", {})) != {"ipStrategy"}
        or middleware["spec"]["rateLimit"]["sourceCriterion"]["ipStrategy"].get("depth", 0)
    ]
    for entry_point, routes in ingress_routes(resources).items():
        users = [r for r in routes if RATE_LIMIT_CREDENTIALS in r.middlewares]
        if len(users) > 1:
            problems.append(
                f"{RATE_LIMIT_CREDENTIALS} on {entry_point}: {len(users)} routes, so "
                f"{len(users)} buckets per client; give the credential paths one route"
            )
    return problems


def check_rules(resources: list[Resource]) -> list[str]:
    """Every route points at a function that exists, through Kourier, rate limited once."""
    problems: list[str] = check_rate_limits(resources)
    services = knative_services(resources)
    middlewares = {m["metadata"]["name"]: m for m in _of(resources, "Middleware")}
    rate_limits = _rate_limits(middlewares)
    for routes in ingress_routes(resources).values():
        for route in routes:
            where = f"IngressRoute {route.ingress} route {route.index} ({route.rule})"
            missing = [m for m in route.middlewares if m not in middlewares]
            if missing:
                problems.append(f"{where}: no Middleware {missing}")
            if _is_redirect(route, middlewares):
                continue
            if len(route.services) != 1 or route.services[0][0] != "Service":
                problems.append(f"{where}: must send to exactly one function's Service")
                continue
            name = route.services[0][1]
            service = services.get(name)
            if service is None:
                problems.append(f"{where}: no Knative Service {name}")
                continue
            labels = service["metadata"].get("labels", {})
            if labels.get("networking.knative.dev/visibility") == "cluster-local":
                problems.append(f"{where}: {name} is cluster-local; it takes no public route")
            namespace = service["metadata"].get("namespace", "default")
            host = middlewares.get(HOST_MIDDLEWARE + name, {}).get("spec", {})
            wanted = f"{name}.{namespace}.svc.cluster.local"
            if HOST_MIDDLEWARE + name not in route.middlewares:
                problems.append(f"{where}: needs the middleware {HOST_MIDDLEWARE}{name}")
            elif host.get("headers", {}).get("customRequestHeaders", {}).get("Host") != wanted:
                problems.append(f"{where}: {HOST_MIDDLEWARE}{name} must set Host: {wanted}")
            limits = [m for m in route.middlewares if m in rate_limits]
            if len(limits) != 1:
                problems.append(f"{where}: needs exactly one rate-limit middleware, has {limits}")
    return problems


def check_routes(resources: list[Resource], routes: list[PublicRoute]) -> list[str]:
    """Each public route reaches exactly its function, on every entry point serving the API."""
    problems: list[str] = []
    middlewares = {m["metadata"]["name"]: m for m in _of(resources, "Middleware")}
    services = knative_services(resources)
    by_entry_point = ingress_routes(resources)
    api_entry_points = [
        entry
        for entry, entry_routes in by_entry_point.items()
        if any(not _is_redirect(r, middlewares) for r in entry_routes)
    ]
    if not api_entry_points:
        return ["no IngressRoute sends requests to a function"]
    for route in routes:
        if route.service not in services:
            problems.append(f"{route.method} {route.path}: no Knative Service {route.service}")
        for entry_point, entry_routes in by_entry_point.items():
            found = traefik.winners(entry_routes, route.method, route.sample_path)
            where = f"{route.method} {route.path} on {entry_point}"
            targets = {r.services for r in found}
            if entry_point not in api_entry_points:
                if not found or not all(_is_redirect(r, middlewares) for r in found):
                    problems.append(f"{where}: neither served nor redirected")
                continue
            if not found:
                problems.append(f"{where}: no route matches")
            elif len(targets) > 1:
                problems.append(f"{where}: ambiguous, equal-priority routes to {sorted(targets)}")
            elif found[0].services != (("Service", route.service),):
                problems.append(f"{where}: reaches {found[0].services}, not {route.service}")
            elif (route.path in CREDENTIAL_PATHS) != (
                RATE_LIMIT_CREDENTIALS in found[0].middlewares
            ):
                wanted = "needs" if route.path in CREDENTIAL_PATHS else "must not have"
                problems.append(f"{where}: {wanted} the middleware {RATE_LIMIT_CREDENTIALS}")
    return problems
