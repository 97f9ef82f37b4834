"""`todo watch`: the open tasks, redrawn whenever any client changes something, with the
state of the live connection on top. Ctrl-C leaves."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from datetime import UTC, datetime

from todo_client import AsyncClient, LiveClosed, Task

from todo_cli import config, render
from todo_cli.exits import AUTH, Failure
from todo_cli.session import Session, reporting
from todo_cli.tasks import OPEN

CLEAR = "\x1b[H\x1b[2J"
STATE_COLOUR = {"live": "32", "connecting": "33", "reconnecting": "33"}
POLL = 0.2  # seconds between looks at the connection's state while nothing changes


async def open_tasks(client: AsyncClient) -> list[Task]:
    return [task async for task in client.tasks.iterate(status=OPEN, sort="due_at", limit=200)]


def draw(server: str, state: str, tasks: list[Task], zone: str) -> None:
    colour = render.wants_colour(sys.stdout)
    header = (
        f"todo watch  {server}  {render.paint(state, STATE_COLOUR[state], colour)}  "
        f"{len(tasks)} open  (Ctrl-C to stop)"
    )
    table = render.task_table(tasks, datetime.now(UTC), zone, colour)
    print(f"{CLEAR if sys.stdout.isatty() else ''}{header}\n\n{table}\n", flush=True)


async def watch(session: Session) -> None:
    client = AsyncClient(
        session.server, credentials=session.credentials, on_credentials=session.keep
    )
    async with client:
        live = client.live()
        changed = asyncio.Event()

        async def follow() -> None:
            async for _ in live:
                changed.set()

        follower = asyncio.create_task(follow())
        tasks, shown = await open_tasks(client), ""
        try:
            while True:
                if follower.done():
                    follower.result()  # the subscription ended: say why
                if changed.is_set() or live.state != shown:
                    # Fetched again on (re)connecting too: changes while away were missed.
                    changed.clear()
                    if live.state == "live":
                        tasks = await open_tasks(client)
                    shown = live.state
                    draw(session.server, shown, tasks, session.timezone)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), POLL)
        finally:
            follower.cancel()


def cmd_watch(args: argparse.Namespace) -> int:
    server = config.server_url(args.server)
    with reporting(server):
        session = Session(server)
        try:
            asyncio.run(watch(session))
        except KeyboardInterrupt:
            print()
        except LiveClosed as closed:
            raise Failure(f"the live connection was refused: {closed.reason}", AUTH) from None
    return 0
