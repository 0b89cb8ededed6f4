"""Provider pauses in PostgreSQL, so every worker process on every machine sees them.

Rides on the engine's pool like the shared circuits (health.py): a read twice a second per
worker and a write per pause or resume. The table is postroom_provider_pauses
(migrations/0011_provider_pauses.sql).
"""

from typing import Any

from postroom.storage.postgres.connection import PostgresConnection
from postroom.storage.postgres.options import storage_errors
from postroom.storage.postgres.queries import Row

_PAUSED = b"SELECT provider, paused_at FROM postroom_provider_pauses"
_PAUSE = b"""
INSERT INTO postroom_provider_pauses (provider, paused_at) VALUES (%(provider)s, %(at)s)
ON CONFLICT (provider) DO NOTHING
RETURNING provider
"""
_RESUME = b"DELETE FROM postroom_provider_pauses WHERE provider = %(provider)s RETURNING provider"


class PostgresProviderPauses:
    """The ProviderPauses port over the engine's database, through its pool. Failures raise
    StorageUnavailableError like the queue's; closing the engine closes this."""

    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection

    async def paused(self) -> dict[str, float]:
        return {provider: at for provider, at in await self._execute(_PAUSED, {})}

    async def pause(self, provider: str, at: float) -> bool:
        return bool(await self._execute(_PAUSE, {"provider": provider, "at": at}))

    async def resume(self, provider: str) -> bool:
        return bool(await self._execute(_RESUME, {"provider": provider}))

    async def _execute(self, query: bytes, params: dict[str, Any]) -> list[Row]:
        with storage_errors():
            async with (await self._db.pool()).connection() as conn:
                cursor = await conn.execute(query, params)
                return await cursor.fetchall() if cursor.description else []
