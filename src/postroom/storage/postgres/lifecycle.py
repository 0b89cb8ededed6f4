"""The PostgreSQL engine's ping, start-up probe and close."""

from postroom.domain.errors import StorageUnavailableError
from postroom.storage.postgres.connection import PostgresConnection


class PostgresLifecycle:
    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection

    async def ping(self) -> None:
        ((read_only, has_schema),) = await self._db.fetch("ping", {})
        if not has_schema:
            raise StorageUnavailableError("postgresql: no schema; run `postroom migrate`")
        if read_only == "on":
            raise StorageUnavailableError("postgresql is read-only")

    async def probe(self) -> None:
        await self._db.probe()

    async def close(self) -> None:
        await self._db.close()
