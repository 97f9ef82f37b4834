"""The `todo` command: parse, then import only the module of the command that runs. The
user's commands never load the server library (asyncpg, starlette, pydantic, ...), which
would cost them a second; the operator's load it when they run."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from todo_cli.commands import build
from todo_cli.exits import FAILED, Failure

INTERRUPTED = 130  # what a shell reports for a command stopped by Ctrl-C

# httpx imports its own command line (rich, pygments, click) whenever they are installed, as
# they are beside the development tools: 60 ms of every user command's start, for code the
# `todo` command never calls. Marked absent, httpx falls back to its stub (bench/cli.py).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    args = build().parse_args(argv)
    module, _, name = args.run.partition(":")
    run = getattr(importlib.import_module(module), name)
    try:
        code: int = run(args)
    except Failure as failure:
        print(f"todo: {failure.message}", file=sys.stderr)
        return failure.code
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:  # `todo ls | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILED
    return code
