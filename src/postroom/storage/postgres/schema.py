"""Schema migrations on request, for `postroom migrate` (the Migrations port)."""

from postroom.storage.postgres.connection import PostgresConnection


class PostgresMigrations:
    """`postroom migrate`: the versioned migrations of migrations/, applied on request."""

    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection

    async def migrate(self) -> list[str]:
        return await self._db.migrate()
