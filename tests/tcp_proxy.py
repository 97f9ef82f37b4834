"""A TCP proxy in front of Postgres (or any TCP server) that a test can take down and bring
back, or that loses one answer."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qs, urlsplit, urlunsplit


class FlakyProxy:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        parts = urlsplit(database_url)
        socket_dir = parse_qs(parts.query).get("host", [None])[0]
        if socket_dir and socket_dir.startswith("/"):
            self._unix: str | None = f"{socket_dir}/.s.PGSQL.{parts.port or 5432}"
            self._tcp: tuple[str, int] | None = None
        else:
            self._unix = None
            self._tcp = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self._cut_answer = False

    @property
    def url(self) -> str:
        """The database URL, pointed at the proxy."""
        parts = urlsplit(self.database_url)
        user = parts.username or "postgres"
        password = f":{parts.password}" if parts.password else ""
        return urlunsplit(
            ("postgresql", f"{user}{password}@127.0.0.1:{self.port}", parts.path, "", "")
        )

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Refuse new connections and cut the open ones, as a database restart would."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        # Cut before waiting: since Python 3.12.1 wait_closed() waits for every connection the
        # server accepted to close, and these would stay open.
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        if server is not None:
            await server.wait_closed()

    async def up(self) -> None:
        await self.start()

    def cut_next_answer(self) -> None:
        """Let the next request through, then cut its connection as the answer starts back:
        the server did the work, the client never hears of it."""
        self._cut_answer = True

    async def _pipe(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        if self._unix:
            reader, writer = await asyncio.open_unix_connection(self._unix)
        else:
            assert self._tcp is not None
            reader, writer = await asyncio.open_connection(*self._tcp)
        self._writers |= {client_writer, writer}

        async def copy(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, answer: bool = False
        ) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    if answer and self._cut_answer:
                        self._cut_answer = False
                        writer.close()
                        break
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(copy(client_reader, writer), copy(reader, client_writer, answer=True))
