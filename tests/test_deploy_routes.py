"""Every public route reaches exactly the function that serves it, through Traefik.

The routes are read from todo/openapi.json when the test runs, so routes added there (the
reminders and notifications APIs) are covered as soon as they land.
"""

from __future__ import annotations

import pytest

from deploy import routes, traefik
from tests.deploy_support import OVERLAYS_ALL, find, rendered

PUBLIC = routes.public_routes()
# Routes of the final function set that main is still adding to the OpenAPI document.
COMING = [
    routes.PublicRoute(method, path, function)
    for method, path, function in [
        ("GET", "/api/reminders", "reminders"),
        ("POST", "/api/reminders", "reminders"),
        ("DELETE", "/api/reminders/{id}", "reminders"),
        ("POST", "/api/reminders/{id}/snooze", "reminders"),
        ("GET", "/api/notifications", "notify"),
        ("POST", "/api/notifications/{id}/read", "notify"),
        ("POST", "/api/notifications/read-all", "notify"),
    ]
]


def test_the_openapi_document_is_read_not_copied() -> None:
    assert len(PUBLIC) > 10
    assert routes.PublicRoute("POST", "/api/tasks", "create_task") in PUBLIC
    assert routes.PublicRoute("GET", "/ws", "realtime") in PUBLIC


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_every_public_route_reaches_exactly_its_function(overlay: str) -> None:
    assert routes.check_routes(rendered(overlay), PUBLIC) == []


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_every_ingress_rule_points_at_a_function_that_exists(overlay: str) -> None:
    assert routes.check_rules(rendered(overlay)) == []


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_the_web_app_takes_only_reads_outside_the_api(overlay: str) -> None:
    """realtime serves the app for GET and HEAD; an unknown /api path stays the API's
    problem+json 404, and nothing else reaches realtime outside /ws."""
    unknown_api = [routes.PublicRoute("GET", "/api/nothing-here", "query_tasks")]
    assert routes.check_routes(rendered(overlay), unknown_api) == []
    for entry_routes in routes.ingress_routes(rendered(overlay)).values():
        for method in ("POST", "PUT", "DELETE"):
            reached = traefik.winners(entry_routes, method, "/tasks")
            assert all(r.services != (("Service", "realtime"),) for r in reached)


def test_the_routes_main_is_adding_are_already_routed() -> None:
    assert routes.check_routes(rendered("oracle"), COMING) == []


def test_oracle_serves_https_and_redirects_http() -> None:
    by_entry_point = routes.ingress_routes(rendered("oracle"))
    assert set(by_entry_point) == {"web", "websecure"}
    (redirect,) = by_entry_point["web"]
    assert redirect.services == (("TraefikService", "noop@internal"),)
    assert find(rendered("oracle"), "IngressRoute", "api")["spec"]["tls"] == {
        "secretName": "api-tls"
    }


def test_a_route_sent_to_the_wrong_function_fails() -> None:
    resources = rendered("oracle")
    api = find(resources, "IngressRoute", "api")
    for route in api["spec"]["routes"]:
        if route["match"] == "Path(`/api/tasks`)":
            route["services"][0]["name"] = "query-tasks"
    problems = routes.check_routes(resources, PUBLIC)
    assert (
        "POST /api/tasks on websecure: reaches (('Service', 'query-tasks'),), not create-task"
        in problems
    )
    # ... and the host rewrite no longer matches the service it sends to.
    assert any("knative-host-query-tasks" in p for p in routes.check_rules(resources))


def test_a_route_to_a_missing_or_cluster_local_service_fails() -> None:
    resources = rendered("local")
    api = find(resources, "IngressRoute", "api")
    api["spec"]["routes"][0]["services"][0]["name"] = "tick-reminders"
    api["spec"]["routes"][1]["services"][0]["name"] = "gone"
    problems = routes.check_rules(resources)
    assert any("tick-reminders is cluster-local" in p for p in problems)
    assert any("no Knative Service gone" in p for p in problems)


def test_equal_priority_routes_to_different_functions_are_ambiguous() -> None:
    resources = rendered("local")
    api = find(resources, "IngressRoute", "api")
    for route in api["spec"]["routes"]:
        if route["match"] == "Path(`/api/tasks`)":
            route["priority"] = 120
    problems = routes.check_routes(resources, PUBLIC)
    assert any(p.startswith("GET /api/tasks on web: ambiguous") for p in problems)


def test_a_public_route_nobody_routes_fails() -> None:
    extra = [routes.PublicRoute("POST", "/v2/tasks", "query_tasks")]
    assert routes.check_routes(rendered("local"), extra) == [
        "POST /v2/tasks on web: no route matches"
    ]


CREDENTIALS = "Path(`/api/auth/login`) || Path(`/api/auth/register`) || Path(`/api/auth/password`)"
AUTH = "Path(`/api/auth`) || PathPrefix(`/api/auth/`)"


def test_the_credential_limit_covers_login_and_not_me() -> None:
    resources = rendered("oracle")
    assert routes.check_routes(resources, PUBLIC) == []
    # Moved onto the whole of /api/auth, as it was: /api/auth/me would share the login limit.
    api = find(resources, "IngressRoute", "api")
    for route in api["spec"]["routes"]:
        if route["match"] == AUTH:
            route["middlewares"][0]["name"] = routes.RATE_LIMIT_CREDENTIALS
    problems = routes.check_routes(resources, PUBLIC)
    assert "GET /api/auth/me on websecure: must not have the middleware ratelimit-credentials" in (
        problems
    )


def test_a_credential_route_without_its_limit_fails() -> None:
    resources = rendered("local")
    for route in find(resources, "IngressRoute", "api")["spec"]["routes"]:
        if route["match"] == CREDENTIALS:
            route["middlewares"][0]["name"] = routes.RATE_LIMIT_ROUTE
    problems = routes.check_routes(resources, PUBLIC)
    assert "POST /api/auth/login on web: needs the middleware ratelimit-credentials" in problems


def test_each_route_takes_exactly_one_rate_limit() -> None:
    resources = rendered("local")
    for route in find(resources, "IngressRoute", "api")["spec"]["routes"]:
        if route["match"] == CREDENTIALS:
            route["middlewares"].insert(0, {"name": routes.RATE_LIMIT_ROUTE})
    assert any(
        "needs exactly one rate-limit middleware, has ['ratelimit-route', 'ratelimit-credentials']"
        in p
        for p in routes.check_rules(resources)
    )


def test_rate_limits_key_on_the_client_address_and_the_credential_one_on_one_route() -> None:
    resources = rendered("local")
    limit = find(resources, "Middleware", routes.RATE_LIMIT_ROUTE)["spec"]["rateLimit"]
    limit["sourceCriterion"] = {"requestHeaderName": "X-Forwarded-For"}
    for route in find(resources, "IngressRoute", "api")["spec"]["routes"]:
        if route["match"] == AUTH:
            route["middlewares"][0]["name"] = routes.RATE_LIMIT_CREDENTIALS
    assert routes.check_rate_limits(resources) == [
        "Middleware ratelimit-route: must key on the client's address "
        "(sourceCriterion.ipStrategy without a depth)",
        "ratelimit-credentials on web: 2 routes, so 2 buckets per client; "
        "give the credential paths one route",
    ]


def test_traefik_rules_follow_and_before_or() -> None:
    rule = traefik.parse("Path(`/a`) || Path(`/b`) && Method(`POST`)")
    assert rule("GET", "/a")
    assert not rule("GET", "/b")
    assert rule("POST", "/b")
    grouped = traefik.parse("(Path(`/a`) || Path(`/b`)) && !Method(`POST`)")
    assert grouped("GET", "/b")
    assert not grouped("POST", "/a")
    assert traefik.parse("PathRegexp(`^/api/tasks/[^/]+$`)")("GET", "/api/tasks/1")
    assert not traefik.parse("PathRegexp(`^/api/tasks/[^/]+$`)")("GET", "/api/tasks/1/complete")


@pytest.mark.parametrize(
    "rule", ["Host(`a`)", "Path(`/a`", "Path(/a)", "Path(`/a`) &&", "Method(`GET`, `POST`)"]
)
def test_rules_this_checker_cannot_read_are_errors(rule: str) -> None:
    with pytest.raises(traefik.RuleError):
        traefik.parse(rule)
