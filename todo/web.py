"""The HTTP side of a function: routes, body and query validation, auth, problems, metrics.

A function declares its routes on a `FunctionApi` and hands every request to it:

    api = FunctionApi("create_task")

    @api.post("/api/tasks", permission="tasks:write", body=TaskCreate, status=201)
    async def create(call: Call, body: TaskCreate) -> Response: ...

    @functions_framework.aio.http
    async def create_task(request: Request) -> Response:
        return await api(request)

Every function also answers GET /health, /ready and /metrics, and the CORS preflight of
every path of the API (`todo.cors`). Errors become RFC 7807 problems in `todo.problems`;
nothing a caller sends produces a 500.
"""

from __future__ import annotations

import gc
import hmac
import json
import logging
import re
import time
import types
import typing
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
from cloudevents.http import CloudEvent
from pydantic import BaseModel, ValidationError
from starlette.background import BackgroundTask
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

from todo import context, cors, documents, json_input, logs, metrics
from todo.confirmed_accounts import refers_to_a_missing_user
from todo.errors import (
    AccountGone,
    BodyTooLarge,
    FieldError,
    Forbidden,
    HeadersTooLarge,
    InvalidInput,
    MalformedBody,
    NotAuthenticated,
    UnsupportedMediaType,
)
from todo.problems import problem_response
from todo.routing import Router
from todo.runtime import runtime
from todo.tokens import Principal, check_config, verify_token

log = logging.getLogger("todo.http")


class _AnyPathConvertor(PathConvertor):
    """Starlette's `path` convertor with line breaks included. functions-framework routes every
    request through `/{path:path}`; with the stock `.*` a decoded `%0A` in the path matched no
    route and met Starlette's plain-text 404 instead of the function and its problem document.
    functions-framework builds its routes after it imports the function's module, which
    imports this one, so the registration is in place by then."""

    regex = "(?s:.*)"


register_url_convertor("path", _AnyPathConvertor())

Endpoint = Callable[..., Awaitable[Response]]
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# The one form of credentials taken: the scheme in any case (RFC 7235), one space, an RFC 6750
# b64token, nothing after. Anything looser invites two parsers to disagree on one header.
_BEARER = re.compile(r"(?i:bearer) ([A-Za-z0-9\-._~+/]+=*)")
BEARER_FORM = "send Authorization: Bearer <token> (one space, the token as issued, nothing after)"
CLOUDEVENTS_JSON = "application/cloudevents+json"
GC_THRESHOLDS = (10_000, 10, 10)  # gc's defaults: (700, 10, 10)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    endpoint: Endpoint
    summary: str
    permission: str | None = None
    public: bool = False
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    cloudevent: str | None = None
    # Request headers the route reads, documented in the OpenAPI document.
    headers: tuple[str, ...] = ()
    # Statuses it can answer beyond those its shape implies (a 404 without a path id, ...),
    # each with the usual description (todo.openapi.ANSWERS) or, as (status, text), its own.
    answers: tuple[int | tuple[int, str], ...] = ()
    # Called only by the platform (events, bindings): the Dapr sidecar with APP_API_TOKEN or
    # a Knative Eventing source with its OIDC token; kept out of the public API document and
    # the ingress.
    sidecar: bool = False
    # Answered for the platform itself (probes, metric scrapes).
    platform: bool = False

    def access_log_level(self, status: int) -> int:
        """What the platform calls (event deliveries, cron, probes, scrapes) comes by the
        thousand an hour: those access lines are DEBUG while they succeed, so they do not
        bury the API's lines nor cost each event a log write. Failures always show."""
        quiet = (self.sidecar or self.platform) and status < 400
        return logging.DEBUG if quiet else logging.INFO


class Call:
    """One request on its way through a route: who asks, and the parts already validated."""

    def __init__(
        self,
        request: Request,
        route: Route,
        path_params: dict[str, str],
        principal: Principal | None,
        event: CloudEvent | None,
    ) -> None:
        self.request = request
        self.route = route
        self.path_params = path_params
        self.principal = principal
        self.event = event

    @property
    def user(self) -> Principal:
        if self.principal is None:
            raise NotAuthenticated("this route needs a bearer token")
        return self.principal

    def path_uuid(self, name: str) -> UUID:
        try:
            return UUID(self.path_params[name])
        except ValueError:
            raise InvalidInput.single(name, "must be a UUID") from None

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    @property
    def client_address(self) -> str:
        """Who is calling, as far as can be told: the socket peer, or the header a trusted
        proxy in front writes (CLIENT_ADDRESS_HEADER), when that is set and present. Behind
        a proxy the peer is the proxy, the same for every caller."""
        header = runtime().settings.client_address_header
        if header:
            value = self.request.headers.get(header, "").strip()
            if value:
                return value
        return self.request.client.host if self.request.client else "unknown"


class FunctionApi:
    def __init__(self, function: str) -> None:
        self.function = function
        self.routes: list[Route] = []
        self._router: Router[Route] | None = None
        settings = runtime().settings
        logs.configure_logging(settings.function_name, settings.log_level)
        # A function module makes its api right after its imports, and functions-framework's
        # server forks its worker after that. Frozen objects are never walked by the garbage
        # collector again, so the worker's first collections do not walk (and copy on write)
        # the whole imported heap during its first requests: ~20 ms of a cold start. This is
        # the use the gc module's documentation gives for gc.freeze.
        gc.freeze()
        # A request allocates thousands of objects, nearly all freed by reference counting
        # as soon as it is answered. At the default first threshold (700) the collector ran
        # several times per request, walking the requests still in flight and promoting
        # them to the older generations, walked again later: 10% of create-task's CPU at
        # 200 creates/s (py-spy). A larger one lets them die young, untouched.
        gc.set_threshold(*GC_THRESHOLDS)

    @property
    def public_routes(self) -> list[Route]:
        """The routes clients call: in the API document and behind the ingress."""
        return [r for r in self.routes if not r.sidecar]

    # Declaring routes -------------------------------------------------------------------

    def route(self, method: str, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        def register(endpoint: Endpoint) -> Endpoint:
            self.routes.append(Route(method, path, endpoint, **options))
            self._router = None
            return endpoint

        return register

    @property
    def router(self) -> Router[Route]:
        """The declared routes, then the built-in ones (made once the routes are declared)."""
        if self._router is None:
            routes = [*self.routes, *BUILTIN_ROUTES]
            self._router = Router((r.method, r.path, r) for r in routes)
        return self._router

    def get(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self.route("POST", path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self.route("DELETE", path, **options)

    def options(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self.route("OPTIONS", path, **options)

    # Serving ----------------------------------------------------------------------------

    async def __call__(self, request: Request) -> Response:
        started = time.perf_counter()
        rid = _request_id(request)
        tokens = (context.request_id.set(rid), context.function.set(self.function))
        try:
            return await self._answer(request, rid, started)
        finally:
            context.request_id.reset(tokens[0])
            context.function.reset(tokens[1])

    async def _answer(self, request: Request, rid: str, started: float) -> Response:
        route: Route | None = None
        path: str = request.scope["path"]  # what routing matches on, as Starlette does
        preflight = False
        try:
            check_header_size(request)
            preflight = cors.is_preflight(request.method, path, request.headers)
            if preflight:
                response = cors.preflight(path, request.headers)
            else:
                route, params = self.router.match(request.method, path)
                response = await self._serve(request, route, params)
        except Exception as exc:
            response = problem_response(exc, instance=path)
        if not preflight:
            cors.allow(path, request.headers, response.headers)
        response.headers["X-Request-Id"] = rid
        status = response.status_code
        label = route.path if route else "preflight" if preflight else "unmatched"
        observation = Observation(
            self.function, request.method, path, label, status, time.perf_counter() - started,
            rid, route.access_log_level(status) if route else logging.INFO,
        )  # fmt: skip
        # Metrics and the access log are written once the response has gone out.
        response.background = BackgroundTask(observation.record)
        return response

    async def _serve(self, request: Request, route: Route, params: dict[str, str]) -> Response:
        limit = runtime().settings.max_body_bytes
        event: CloudEvent | None = None
        if route.cloudevent and is_cloudevent(request):
            # The event names its user; read it before deciding who is calling.
            event = parse_cloudevent(request, await read_body(request, limit), route.cloudevent)
        principal = await authenticate(request, route, event)
        if route.permission:
            principal_or_fail(principal).require(route.permission)
        kwargs: dict[str, Any] = {}
        if event is not None:
            data = checked_json(event.get_data())
            kwargs["body"] = validate(route.body, data) if route.body else None
        elif route.body is not None:
            kwargs["body"] = validate(
                route.body, parse_json(request, await read_body(request, limit))
            )
        if route.query is not None:
            kwargs["query"] = validate_query(route.query, request)
        try:
            return await route.endpoint(Call(request, route, params, principal, event), **kwargs)
        except asyncpg.ForeignKeyViolationError as exc:
            # A token's account deleted since its confirmation was last remembered: no need
            # to wait it out. (An event the sidecar delivers for a deleted user stays a 500.)
            by_token = "authorization" in request.headers
            if principal is None or not by_token or not refers_to_a_missing_user(exc):
                raise
            runtime().accounts.forget(principal.user_id)
            raise AccountGone() from exc


class Observation(NamedTuple):
    """One answered request, for the metrics and the access log."""

    function: str
    method: str
    path: str
    route: str
    status: int
    seconds: float
    request_id: str
    log_level: int

    async def record(self) -> None:
        # async, so Starlette runs it on the loop instead of in a thread.
        try:
            m = metrics.instruments()
            metrics.labelled(
                m.http_requests, self.function, self.route, self.method, self.status
            ).inc()
            metrics.labelled(
                m.http_request_duration, self.function, self.route, self.method
            ).observe(self.seconds)
            log.log(
                self.log_level,
                "%s %s %s",
                self.method,
                self.path,
                self.status,
                extra={
                    "request_id": self.request_id,
                    "function": self.function,
                    "route": self.route,
                    "status": self.status,
                    "duration_ms": round(self.seconds * 1000, 2),
                },
            )
        except Exception:  # the response is already sent; never fail after it
            log.exception("could not record a request")


def principal_or_fail(principal: Principal | None) -> Principal:
    if principal is None:
        raise NotAuthenticated("this route needs a bearer token")
    return principal


def check_header_size(request: Request) -> None:
    """Bound what one request's headers may hold, before anything reads them."""
    settings = runtime().settings
    headers: list[tuple[bytes, bytes]] = request.scope["headers"]
    if len(headers) > settings.max_header_count:
        raise HeadersTooLarge(f"{len(headers)} headers; the limit is {settings.max_header_count}")
    size = sum(len(name) + len(value) for name, value in headers)
    if size > settings.max_header_bytes:
        raise HeadersTooLarge(
            f"the headers hold {size} bytes; the limit is {settings.max_header_bytes}"
        )


def _request_id(request: Request) -> str:
    for header in ("x-request-id", "function-execution-id"):
        value = request.headers.get(header)
        if value and _REQUEST_ID.match(value):
            return value
    return uuid.uuid4().hex


# Authentication ---------------------------------------------------------------------------


async def authenticate(
    request: Request, route: Route, event: CloudEvent | None
) -> Principal | None:
    """The caller: a user's bearer token (of an account that still exists), or the Dapr
    sidecar delivering an event for a user."""
    rt = runtime()
    if route.sidecar:
        await _check_delivery(request)
        return None
    token = _bearer_token(request)
    if token is not None:
        principal = verify_token(rt.settings, token, rt.clock.now())
        if event is not None and event.get("userid") not in (None, str(principal.user_id)):
            raise Forbidden("the event's userid is not the token's subject")
        if not route.public:  # a public route reads no account: a stale token is no bar
            await rt.accounts.confirm(principal.user_id)
        return principal
    if event is not None and _is_sidecar(request):
        return _service_principal(event, route)
    if route.public:
        return None
    raise NotAuthenticated("missing bearer token")


async def _check_delivery(request: Request) -> None:
    """A route the platform calls takes the Dapr sidecar (APP_API_TOKEN) or, where sources
    deliver (EVENT_AUDIENCE), a Knative Eventing source with its OIDC token. With neither
    set it relies on being reachable only in the cluster."""
    rt = runtime()
    if _is_sidecar(request):
        return
    if rt.senders.enabled:
        await rt.senders.verify(_bearer_token(request), rt.clock.now())
    elif rt.settings.app_api_token:
        raise NotAuthenticated("only the Dapr sidecar may call this route")


def _bearer_token(request: Request) -> str | None:
    authorization = request.headers.get("authorization")
    if authorization is None:
        return None
    credentials = _BEARER.fullmatch(authorization)
    if credentials is None:
        raise NotAuthenticated(BEARER_FORM)
    return credentials[1]


def _is_sidecar(request: Request) -> bool:
    expected = runtime().settings.app_api_token
    presented = request.headers.get("dapr-api-token")
    return bool(expected and presented and hmac.compare_digest(expected, presented))


def _service_principal(event: CloudEvent, route: Route) -> Principal:
    try:
        user_id = UUID(str(event.get("userid")))
    except ValueError:
        raise InvalidInput.single("userid", "the event needs a userid extension (a UUID)") from None
    granted = frozenset({route.permission} if route.permission else ())
    return Principal(user_id, frozenset({"service"}), granted, None)


# Bodies -----------------------------------------------------------------------------------


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is {declared} bytes; the limit is {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"the body is over the {limit}-byte limit")
    return bytes(body)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_cloudevent(request: Request) -> bool:
    return "ce-specversion" in request.headers or _media_type(request) == CLOUDEVENTS_JSON


def parse_json(request: Request, raw: bytes) -> Any:
    media = _media_type(request)
    if media and media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(f"send Content-Type: application/json, not {media}")
    if not raw.strip():
        raise MalformedBody("body: expected a JSON object, got an empty body")
    try:
        value = json_input.loads(raw)
    except json_input.TooDeep as exc:
        message = f"nested deeper than {json_input.MAX_DEPTH} levels"
        raise InvalidInput.single(exc.field, message) from None
    except ValueError as exc:  # not UTF-8, or not JSON
        raise MalformedBody(f"body: invalid JSON ({exc})") from None
    return checked_json(value)


def checked_json(value: Any) -> Any:
    """`value` unless some part of it is one no field may hold (see todo.json_input)."""
    errors = json_input.problems(value)
    if errors:
        raise InvalidInput(errors)
    return value


def parse_cloudevent(request: Request, raw: bytes, expected_type: str) -> CloudEvent:
    from cloudevents.http import from_http

    from todo.incoming import MalformedEvent, read_cloudevent

    try:
        event = read_cloudevent(lambda: from_http(dict(request.headers), raw))
    except MalformedEvent as exc:
        raise MalformedBody(f"body: {exc}") from None
    if event["type"] != expected_type:
        raise InvalidInput.single("type", f"expected a {expected_type} CloudEvent")
    return event


def validate(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc) from None


def invalid_input(exc: ValidationError) -> InvalidInput:
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in error["loc"]) or "body"
        errors.append(FieldError(location, error["msg"]))
    return InvalidInput(errors)


def validate_query(model: type[BaseModel], request: Request) -> Any:
    values: dict[str, Any] = {}
    refused: list[FieldError] = []
    for name in request.query_params:
        given = request.query_params.getlist(name)
        if any(json_input.NUL in value for value in given):
            refused.append(FieldError(name, json_input.NO_NUL))
            continue
        info = model.model_fields.get(name)
        if info is not None and _is_list(info.annotation):
            values[name] = given
        elif len(given) > 1:
            refused.append(FieldError(name, "given more than once"))
        else:
            values[name] = given[0]
    if refused:
        raise InvalidInput(refused)
    return validate(model, values)


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) is list:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return False


# Responses --------------------------------------------------------------------------------


def json_response(
    payload: BaseModel | dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    content = payload.model_dump_json() if isinstance(payload, BaseModel) else json.dumps(payload)
    return Response(content, status_code=status, media_type="application/json", headers=headers)


def document_response(document: dict[str, Any]) -> Response:
    """A page built straight from rows (datetimes and UUIDs as they came), with the bytes
    its response model would dump to (see todo.documents)."""
    return Response(documents.encode(document), media_type="application/json")


def if_match(call: Call) -> frozenset[int] | None:
    """Versions the If-Match header accepts; None when absent or `*`."""
    header = call.header("if-match")
    if header is None or header.strip() == "*":
        return None
    versions = set()
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            raise InvalidInput.single(
                "If-Match", "weak entity tags never match; send the ETag as given"
            )
        if not _ETAG.fullmatch(tag):
            raise InvalidInput.single(
                "If-Match", f'{tag[:40]!r} is not an ETag this API issued (such as "3")'
            )
        versions.add(int(tag.strip('"')))
    return frozenset(versions)


# The ETags this API issues: a task's version (an int4), quoted; unquoted is taken too.
_ETAG = re.compile(r'"\d{1,10}"|\d{1,10}')


def etag(version: int) -> str:
    return f'"{version}"'


# Built-in routes --------------------------------------------------------------------------


_TAKEN = json.dumps({"status": "SUCCESS"}).encode()


def acknowledge() -> Response:
    """Dapr's answer for an event taken (processed, skipped as a repeat, or dead-lettered)."""
    return Response(_TAKEN, media_type="application/json")


async def _health(call: Call) -> Response:
    return json_response({"status": "ok"})


async def _ready(call: Call) -> Response:
    """Ready when configured: a misconfigured revision never receives traffic. The database
    is not asked: a probe every few seconds would keep a free Neon compute from ever
    suspending, and a database blip would take every pod (the websockets' too) out of
    rotation, where requests answer 503 on their own until it is back."""
    check_config(runtime().settings)
    return json_response({"status": "ready"})


async def _metrics(call: Call) -> Response:
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)


BUILTIN_ROUTES = [
    Route("GET", "/health", _health, "Process is up", public=True, platform=True),
    Route("GET", "/ready", _ready, "Configured and serving", public=True, platform=True),
    Route("GET", "/metrics", _metrics, "Prometheus metrics", public=True, platform=True),
]
