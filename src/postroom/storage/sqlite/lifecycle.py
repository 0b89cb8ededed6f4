"""Opening and closing the SQLite file."""

from postroom.storage.sqlite.connection import SqliteConnection


class SqliteLifecycle:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    async def ping(self) -> None:
        # StorageFullError while new email is refused at the size cap: /readyz and
        # `postroom check` say "full" while delivery goes on.
        await self._db.ready()

    async def probe(self) -> None:
        # Opening the file and committing is the whole check; the ping does both.
        await self._db.ping()

    async def close(self) -> None:
        await self._db.close()
