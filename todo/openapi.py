"""The OpenAPI 3.1 document, built from the routes the functions declare.

`todo openapi` writes it to `todo/openapi.json`, which query_tasks serves at
/api/openapi.json and a test keeps equal to what the routes say. Building it at serve
time would mean importing every function into one of them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from todo.web import FunctionApi, Route

DOCUMENT_FILE = "openapi.json"
# Where `todo openapi` writes it: inside this package, which ships it.
DOCUMENT_PATH = Path(__file__).with_name(DOCUMENT_FILE)
_PATH_PARAM = re.compile(r"{(\w+)}")

_ETAG = '("[0-9]{1,10}"|[0-9]{1,10})'
HEADER_PARAMETERS: dict[str, dict[str, Any]] = {
    "If-Match": {
        "description": "Apply the change only if the task is still at this ETag (or one of "
        "these); 412 otherwise. `*` matches any version.",
        "schema": {"type": "string", "pattern": rf"^(\*|{_ETAG}( *, *{_ETAG})*)$"},
    },
    "Idempotency-Key": {
        "description": "Retrying with the same key returns the first response and creates "
        "nothing new (per user). A CloudEvent's id plays this part.",
        "schema": {"type": "string", "pattern": "^[^\\x00-\\x1f\\x7f]{1,255}$"},
    },
    "X-Session": {
        "description": "`cookie`: a browser's session. The refresh token travels in the "
        "HttpOnly, Secure, SameSite=Strict cookie `todo_refresh` (Path=/api/auth), never in "
        "a body; reading it also needs this header and, when sent, an Origin of this host.",
        "schema": {"type": "string", "enum": ["cookie"]},
    },
}

# Statuses a route declares beyond those its shape implies (see Route.answers).
ANSWERS = {
    401: "Wrong email or password",
    404: "No such resource for this account",
    409: "An account with this email exists",
    429: "Too many failed password checks; see Retry-After",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 7807 problem details.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {
            "type": "string",
            "description": "Stable identifier, such as /problems/not-found.",
        },
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "For 422, and 403 wrong-password: each field at fault and what "
            "is wrong with it.",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


@functools.cache
def published_document() -> bytes:
    return resources.files("todo").joinpath(DOCUMENT_FILE).read_bytes()


def build(apis: Sequence[FunctionApi], version: str) -> dict[str, Any]:
    models = _models(apis)
    refs, defs = models_json_schema(
        [(model, mode) for model, mode in models], ref_template="#/components/schemas/{model}"
    )
    schemas = dict(sorted(defs.get("$defs", {}).items()))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for api in apis:
        for route in api.public_routes:
            operation = _operation(api.function, route, refs)
            paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "todo functions",
            "version": version,
            "description": "An event-driven task API. Errors are RFC 7807 problems.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _models(apis: Sequence[FunctionApi]) -> list[tuple[type[BaseModel], Any]]:
    found: dict[tuple[type[BaseModel], str], None] = {}
    for api in apis:
        for route in api.public_routes:
            if route.body is not None:
                found[(route.body, "validation")] = None
            if route.response is not None:
                found[(route.response, "serialization")] = None
    return list(found)


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def _operation(function: str, route: Route, refs: dict[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": f"{function}.{route.endpoint.__name__.rstrip('_')}",
        "summary": route.summary,
        "tags": [function],
        "x-function": function,
    }
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        }
        for name in _PATH_PARAM.findall(route.path)
    ]
    if route.query is not None:
        parameters += _query_parameters(route.query)
    parameters += [
        {"name": h, "in": "header", "required": False, **HEADER_PARAMETERS[h]}
        for h in route.headers
    ]
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        content = {"application/json": {"schema": refs[(route.body, "validation")]}}
        if route.cloudevent:
            content["application/cloudevents+json"] = {
                "schema": {
                    "type": "object",
                    "description": f"A structured CloudEvent of type {route.cloudevent} whose "
                    "data is the JSON body. Binary mode (ce-* headers) works too.",
                    "required": ["specversion", "id", "source", "type", "data"],
                    "properties": {
                        "specversion": {"const": "1.0"},
                        "id": {"type": "string", "minLength": 1, "maxLength": 255},
                        "source": {"type": "string", "minLength": 1},
                        "type": {"const": route.cloudevent},
                        "data": refs[(route.body, "validation")],
                    },
                }
            }
        operation["requestBody"] = {"required": True, "content": content}
    success: dict[str, Any] = {"description": route.summary}
    if route.response is not None and route.status != 204:
        success["content"] = {
            "application/json": {"schema": refs[(route.response, "serialization")]}
        }
    responses: dict[str, Any] = {str(route.status): success}
    if route.body is not None:
        responses["400"] = _problem("Malformed JSON")
        responses["413"] = _problem("Body over 1 MiB")
        responses["415"] = _problem("Not JSON")
    if not route.public:
        responses["401"] = _problem(
            "Missing, invalid or expired token, or its account no longer exists"
        )
        operation["security"] = [{"bearer": []}]
    if route.permission:
        responses["403"] = _problem(f"The token lacks {route.permission}")
    for answer in route.answers:
        status, description = answer if isinstance(answer, tuple) else (answer, ANSWERS[answer])
        responses[str(status)] = _problem(description)
    if "{" in route.path:
        responses["404"] = _problem(ANSWERS[404])
    if "If-Match" in route.headers:
        responses["412"] = _problem("If-Match names an outdated version")
    if route.body is not None or route.query is not None or "{" in route.path:
        responses["422"] = _problem("Invalid fields, each named")
    # Any other method on this path: documented on each operation, as OpenAPI has no place
    # for a path's own answers.
    responses["405"] = _problem("A method this path does not take; Allow lists those it does")
    responses["431"] = _problem("Request headers over the limit")
    responses["503"] = _problem("Database unavailable (retry), or the service not configured")
    operation["responses"] = responses
    return operation


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema["properties"].items():
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k != "description"},
        }
        if "description" in prop:
            parameter["description"] = prop["description"]
        if prop.get("type") == "array":
            parameter["style"] = "form"
            parameter["explode"] = True
        parameters.append(parameter)
    return parameters
