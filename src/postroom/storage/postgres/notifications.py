"""New-email notifications over LISTEN/NOTIFY: the statements that store an email (or redrive
one) call pg_notify, and every worker listening wakes at once instead of at its next poll."""

import asyncio
import contextlib

import psycopg
from psycopg import AsyncConnection

from postroom.storage.postgres.connection import PostgresConnection

CHANNEL = "postroom_new"


class PostgresNotifications:
    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection
        self._listener: asyncio.Task[None] | None = None
        self._notified = asyncio.Event()
        connection.on_close(self._stop)

    # The port's signature: the worker passes its poll interval.
    async def wait_for_new(self, timeout: float) -> None:  # noqa: ASYNC109
        """Listens on a connection of its own; while that connection is down this only times
        out, and polling carries on."""
        if self._listener is None and not self._db.closed:
            self._listener = asyncio.create_task(self._listen())
        try:
            await asyncio.wait_for(self._notified.wait(), timeout)
        except TimeoutError:
            return  # the event stays set if a notification came at the last moment
        self._notified.clear()

    async def _listen(self) -> None:
        pause = 1.0
        while True:
            with contextlib.suppress(psycopg.Error):
                conn = await AsyncConnection.connect(self._db.conninfo, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}".encode())
                    pause = 1.0
                    self._notified.set()  # emails may have arrived while nobody listened
                    async for _ in conn.notifies():
                        self._notified.set()
            await asyncio.sleep(pause)
            pause = min(pause * 2, 30.0)

    async def _stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
