"""The built web app (web/dist) at `/`, beside the API and the websocket: served by
`todo dev`, and in the cluster by realtime (the always-on service), whose image carries it.

Vite names every file under `assets/` by a hash of its content, so those are cached for a
year and never revalidated; `index.html` and the other files at the top (the service
worker, the manifest, icons) keep their names and are revalidated on every use. A path of
the app (`/tasks`, `/settings`) is answered with `index.html`, so a reload or a shared link
opens the app there; the API's paths never are: an unknown `/api/...` stays a 404 problem.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
BUILD_HINT = "the web app is not built: run `npm ci && npm run build` in web/ (Node.js 20.19+)"

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Only what the app uses: its own scripts, styles, images, manifest and service worker, and
# requests (fetch and the websocket: CSP 3's 'self' covers ws: and wss: to the same host)
# to its own origin. No inline script or style, no plugins, no framing, no <base>.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # Browsers heed it over HTTPS only (the cluster); over plain HTTP (`todo dev`) they
    # ignore it, as RFC 6797 says they must.
    "Strict-Transport-Security": "max-age=31536000",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Paths that belong to the server, never to the app: no index.html for them. daprd asks
# realtime for GET /dapr/config and /dapr/subscribe when it starts: a page there would be
# read as a (broken) configuration.
SERVER_PREFIXES = ("/api/", "/ws/", "/dapr/")
SERVER_PATHS = frozenset({"/api", "/ws", "/dapr", "/events", "/health", "/ready", "/metrics"})


class WebApp:
    """Serves `dist` for GET and HEAD on any path the server does not own."""

    def __init__(self, dist: Path = DIST) -> None:
        self.dist = dist.resolve()

    @property
    def built(self) -> bool:
        return (self.dist / "index.html").is_file()

    def serves(self, method: str, path: str) -> bool:
        return (
            method in ("GET", "HEAD")
            and path not in SERVER_PATHS
            and not path.startswith(SERVER_PREFIXES)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.response(scope["path"])(scope, receive, send)

    def response(self, path: str) -> Response:
        if not self.built:
            return PlainTextResponse(BUILD_HINT, 404, headers=SECURITY_HEADERS)
        file = self._file(path)
        if file is not None:
            cache = IMMUTABLE if file.parent.name == "assets" else REVALIDATE
            return FileResponse(file, headers={**SECURITY_HEADERS, "Cache-Control": cache})
        if _looks_like_a_file(path):
            return PlainTextResponse("not found", 404, headers=SECURITY_HEADERS)
        return FileResponse(
            self.dist / "index.html",
            headers={**SECURITY_HEADERS, "Cache-Control": REVALIDATE},
        )

    def _file(self, path: str) -> Path | None:
        """The file of dist at `path`, never one outside it."""
        relative = PurePosixPath(path.lstrip("/"))
        if not relative.parts or ".." in relative.parts:
            return None
        file = (self.dist / relative).resolve()
        if not file.is_relative_to(self.dist) or not file.is_file():
            return None
        return file


def _looks_like_a_file(path: str) -> bool:
    """A missing asset or icon answers 404 rather than the page: a script tag given HTML
    would fail confusingly, and a stale hashed name should show as what it is."""
    name = PurePosixPath(path).name
    return path.startswith("/assets/") or "." in name
