"""The OpenAPI document: complete, current, and served."""

from __future__ import annotations

import json

import httpx

import functions
from todo.openapi import published_document
from todo_cli import main as cli


def test_the_committed_document_matches_the_routes() -> None:
    # Regenerate with `todo openapi` after changing a route or a schema.
    assert json.loads(published_document()) == cli.openapi_document()


def test_every_route_of_every_function_is_documented_once() -> None:
    document = cli.openapi_document()
    documented = {
        (method.upper(), path): operation["x-function"]
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    declared = {
        (route.method, route.path): name
        for name in functions.FUNCTIONS
        for route in functions.load(name).api.public_routes
    }
    assert documented == declared
    for path, operations in document["paths"].items():
        for operation in operations.values():
            assert operation["responses"], path
            if "{id}" in path:
                assert "404" in operation["responses"]


async def test_the_document_is_served_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert "/api/tasks" in document["paths"]
    assert document["paths"]["/api/tasks"]["post"]["x-function"] == "create_task"
