"""The OpenAPI document: complete, current, and served."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
import pytest

import functions
from todo.models import iso_duration
from todo.openapi import published_document
from todo_cli import operator_commands as cli


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


# RFC 3339 appendix A's duration (what JSON Schema's "duration" format checks), without weeks.
RFC3339_DURATION = re.compile(
    r"P((\d+D)(T(\d+H(\d+M(\d+(\.\d+)?S)?)?|\d+M(\d+(\.\d+)?S)?|\d+(\.\d+)?S))?"
    r"|T(\d+H(\d+M(\d+(\.\d+)?S)?)?|\d+M(\d+(\.\d+)?S)?|\d+(\.\d+)?S))"
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=415, hours=22), "P415DT22H"),
        (timedelta(days=20, hours=9, seconds=49), "P20DT9H0M49S"),
        (timedelta(minutes=15), "PT15M"),
        (timedelta(days=1), "P1D"),
        (timedelta(0), "PT0S"),
        (timedelta(minutes=1, seconds=2.5), "PT1M2.5S"),
    ],
)
def test_durations_are_answered_in_the_form_the_document_promises(
    value: timedelta, text: str
) -> None:
    assert iso_duration(value) == text
    assert RFC3339_DURATION.fullmatch(text)
