"""The asyncpg pool: created on first use, sized by settings, and tolerant of dead connections."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import asyncpg

from todo.errors import DatabaseUnavailable
from todo.settings import Settings

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # What operations receive: a pooled connection, or a plain one (migrations, scripts).
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
else:
    Connection = asyncpg.Connection

_T = TypeVar("_T")

# What a lost or unreachable server looks like from asyncpg. Anything here answers 503,
# never 500, and the next request gets a fresh connection.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


# On a pooled connection that sat idle, these mean the server cut it: drop it, take another.
# InternalClientError ("another operation is in progress") is how asyncpg reports a
# connection whose termination notice arrived while it was idle.
DEAD_CONNECTION: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, asyncpg.InternalClientError)


async def _init_connection(conn: Connection) -> None:
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=dump_json, decoder=json.loads, format="text"
    )


async def _keep_session(conn: Connection) -> None:
    """Skip asyncpg's reset on release (a round trip per request): the functions leave no
    session state behind (no SET, LISTEN, advisory locks or cursors on pooled connections)."""


def dump_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def _roll_back(conn: PoolConnectionProxy[asyncpg.Record], tx: Any) -> None:
    """Roll back after a failure; a connection too broken to roll back is discarded (the
    server rolls back what it had), so the first error is the one reported."""
    if conn.is_closed():
        return
    try:
        await tx.rollback()
    except DEAD_CONNECTION:
        _discard(conn)


def _discard(conn: PoolConnectionProxy[asyncpg.Record]) -> None:
    with contextlib.suppress(asyncpg.InterfaceError):
        conn.terminate()


async def _release(pool: asyncpg.Pool, conn: PoolConnectionProxy[asyncpg.Record]) -> None:
    # A connection that died mid-operation may already be detached from the pool.
    with contextlib.suppress(asyncpg.InterfaceError):
        await pool.release(conn)


class Database:
    """Owns one lazily created pool. A failed creation is not cached: the next call tries again."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: asyncpg.Pool | None = None
        self._creating: asyncio.Lock | None = None

    @property
    def pool_created(self) -> bool:
        return self._pool is not None

    @property
    def url(self) -> str:
        if not self._settings.database_url:
            raise RuntimeError("DATABASE_URL is not set")
        return self._settings.database_url

    async def pool(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        if self._creating is None:
            self._creating = asyncio.Lock()
        async with self._creating:
            if self._pool is None:
                s = self._settings
                try:
                    self._pool = await asyncpg.create_pool(
                        self.url,
                        min_size=min(s.db_pool_min, s.db_pool_max),
                        max_size=s.db_pool_max,
                        timeout=s.db_connect_timeout,
                        command_timeout=s.db_command_timeout,
                        statement_cache_size=s.db_statement_cache_size,
                        init=_init_connection,
                        reset=_keep_session,
                    )
                except CONNECTION_ERRORS as exc:
                    raise DatabaseUnavailable(str(exc)) from exc
        return self._pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection inside a transaction, committed when the block exits cleanly.

        A connection the server has dropped since it was last used fails on BEGIN; it is
        thrown away and another taken, so a killed connection never fails a request.
        Once BEGIN succeeded a lost connection is reported, never retried: the work
        may or may not have committed, and only the caller knows if it can repeat it.
        """
        pool = await self.pool()
        conn, tx = await self._begin(pool)
        try:
            try:
                yield conn
            except BaseException:
                await _roll_back(conn, tx)
                raise
            await tx.commit()
        except DEAD_CONNECTION as exc:
            # Also InternalClientError: a server shutting down can leave asyncpg's protocol
            # in a state it reports that way ("cannot switch to state 12") mid-transaction.
            _discard(conn)
            raise DatabaseUnavailable(str(exc)) from exc
        finally:
            await _release(pool, conn)

    async def _begin(self, pool: asyncpg.Pool) -> tuple[PoolConnectionProxy[asyncpg.Record], Any]:
        last_error: BaseException | None = None
        for _ in range(self._settings.db_pool_max + 1):
            try:
                conn = await pool.acquire()
            except CONNECTION_ERRORS as exc:
                raise DatabaseUnavailable(str(exc)) from exc
            tx = conn.transaction()
            try:
                await tx.start()
                return conn, tx
            except DEAD_CONNECTION as exc:
                last_error = exc
                _discard(conn)
                await _release(pool, conn)
            except BaseException:
                await _release(pool, conn)
                raise
        raise DatabaseUnavailable(str(last_error)) from last_error

    async def read(self, operation: Callable[[Connection], Awaitable[_T]]) -> _T:
        """Run one statement on a pooled connection, outside a transaction: a read, or a
        write that is safe to repeat.

        A single statement sees one snapshot on its own, so BEGIN and COMMIT would add
        two round trips and nothing else (11% of a list request, measured under
        bench/list_tasks). With no BEGIN to find a dead connection first, the statement
        itself does: that connection is thrown away and the statement run again on
        another (the first attempt may have reached the server). A statement that timed
        out is not run again.
        """
        pool = await self.pool()
        last_error: BaseException | None = None
        for _ in range(self._settings.db_pool_max + 1):
            try:
                conn = await pool.acquire()
            except CONNECTION_ERRORS as exc:
                raise DatabaseUnavailable(str(exc)) from exc
            try:
                return await operation(conn)
            except TimeoutError as exc:
                raise DatabaseUnavailable(str(exc)) from exc
            except DEAD_CONNECTION as exc:
                last_error = exc
                _discard(conn)
            finally:
                await _release(pool, conn)
        raise DatabaseUnavailable(str(last_error)) from last_error

    async def execute_idempotent(self, query: str, *args: object) -> None:
        """One statement, safe to run twice, on its own (see `read`)."""
        await self.read(lambda conn: conn.execute(query, *args))

    async def fetchval(self, query: str, *args: object) -> Any:
        """One value of one read on its own (see `read`)."""
        return await self.read(lambda conn: conn.fetchval(query, *args))

    async def close(self) -> None:
        """Close gracefully; connections still busy after ten seconds are cut."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 10.0)
            except TimeoutError:
                pool.terminate()
