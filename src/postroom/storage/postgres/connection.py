"""The PostgreSQL engine's one connection object: the pool every port object shares, opened
and migrated on first use. Every operation is one statement on an autocommit connection, so
one round trip and one commit."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from postroom.domain.errors import StorageUnavailableError
from postroom.ports.clock import Clock
from postroom.storage.postgres.migrate import migrate as apply_migrations
from postroom.storage.postgres.options import (
    PoolOptions,
    connect_failure,
    masked,
    parse_url,
    storage_errors,
)
from postroom.storage.postgres.queries import Row, rows

Pool = AsyncConnectionPool[AsyncConnection[Row]]
Closer = Callable[[], Awaitable[None]]

# The pool retries a lost connection with growing pauses; giving up after this long lets the
# next request start a fresh attempt at once, so service resumes within seconds of the server.
_RECONNECT_TIMEOUT = 10.0


class PostgresConnection:
    def __init__(self, conninfo: str, clock: Clock, options: PoolOptions | None = None) -> None:
        self.conninfo = conninfo
        self.clock = clock
        self.options = options or PoolOptions()
        self._pool: Pool | None = None
        self._opening = asyncio.Lock()
        self._migrated = not self.options.auto_migrate
        self.closed = False
        # Run at close before the pool goes: batched writes drain, the listener stops.
        self._closers: list[Closer] = []

    @classmethod
    def from_url(cls, url: str, clock: Clock) -> "PostgresConnection":
        """`postgresql://user:password@host:port/database?option=value` (or `postgres://`).

        Postroom's options: pool_min, pool_max, pool_timeout (seconds), migrate (on/off). Any
        other option goes to libpq (connect_timeout, sslmode, ...); see docs/postgres.md."""
        conninfo, options = parse_url(url)
        return cls(conninfo, clock, options)

    def __repr__(self) -> str:
        return f"PostgresConnection({masked(self.conninfo)!r})"

    def on_close(self, closer: Closer) -> None:
        self._closers.append(closer)

    def check_open(self) -> None:
        if self.closed:
            raise StorageUnavailableError("storage is closed")

    async def _open_pool(self) -> Pool:
        async with self._opening:
            if self._pool is None:
                self.check_open()
                self._pool = AsyncConnectionPool(
                    self.conninfo,
                    min_size=self.options.min_size,
                    max_size=self.options.max_size,
                    timeout=self.options.timeout,
                    reconnect_timeout=_RECONNECT_TIMEOUT,
                    kwargs={"autocommit": True},
                    name="postroom",
                    open=False,
                )
                # Opened inside the running loop: the pool's tasks belong to it.
                await self._pool.open(wait=False)
            return self._pool

    async def pool(self) -> Pool:
        """The open, migrated pool."""
        pool = self._pool or await self._open_pool()
        if not self._migrated:
            async with self._opening:
                if not self._migrated:
                    async with pool.connection() as conn:
                        await apply_migrations(conn)
                    self._migrated = True
        return pool

    async def fetch(self, query: str, params: Mapping[str, Any]) -> list[Row]:
        """The named query's rows (queries.sql), failures as StorageUnavailableError."""
        with storage_errors():
            async with (await self.pool()).connection() as conn:
                return await rows(conn, query, params)

    async def migrate(self) -> list[str]:
        """Apply pending schema migrations; the versions applied (none when up to date)."""
        with storage_errors():
            async with (self._pool or await self._open_pool()).connection() as conn:
                applied = await apply_migrations(conn)
        self._migrated = True
        return applied

    async def probe(self) -> None:
        """Connect once outside the pool, for start-up: a failure names host:port and why."""
        try:
            conn = await psycopg.AsyncConnection.connect(self.conninfo, connect_timeout=5)
        except psycopg.Error as error:
            raise connect_failure(self.conninfo, error) from None
        await conn.close()

    async def close(self) -> None:
        self.closed = True
        for closer in self._closers:
            await closer()
        if self._pool is not None:
            await self._pool.close()
