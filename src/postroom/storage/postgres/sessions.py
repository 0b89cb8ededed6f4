"""Browser sessions in PostgreSQL, shared by every API process on every host: the
postroom_sessions table (migrations/0013_sessions.sql), read through the engine's pool."""

from typing import Any

from postroom.ports.keys import ApiKey
from postroom.ports.sessions import StoredSession
from postroom.storage.postgres.connection import PostgresConnection
from postroom.storage.postgres.keys import _key
from postroom.storage.postgres.options import storage_errors
from postroom.storage.postgres.queries import Row

_CREATE = b"""
INSERT INTO postroom_sessions (token_hash, pages, key_id, tenant, created_at, expires_at)
VALUES (%(token_hash)s, %(pages)s, %(key_id)s, %(tenant)s, %(created_at)s, %(expires_at)s)
"""
# One read through both primary keys: the session's hash, then its key's id.
_GET = b"""
SELECT s.token_hash, s.pages, s.key_id, s.tenant, s.created_at, s.expires_at,
    k.id, k.name, k.prefix, k.created_at, k.last_used_at, k.revoked_at, k.tenant, k.scopes,
    k.expires_at
FROM postroom_sessions s JOIN postroom_api_keys k ON k.id = s.key_id
WHERE s.token_hash = %(token_hash)s AND s.expires_at > %(now)s AND k.revoked_at IS NULL
"""
_DELETE = b"DELETE FROM postroom_sessions WHERE token_hash = %(token_hash)s"
_PURGE = b"DELETE FROM postroom_sessions WHERE expires_at <= %(now)s RETURNING 1"


class PostgresSessionStore:
    """The SessionStore port over the engine's database. Failures raise
    StorageUnavailableError like the key store's; closing the engine closes this."""

    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection

    async def create_session(self, session: StoredSession) -> None:
        params = {
            "token_hash": session.token_hash,
            "pages": session.pages,
            "key_id": session.key_id,
            "tenant": session.tenant,
            "created_at": session.created_at,
            "expires_at": session.expires_at,
        }
        await self._execute(_CREATE, params)

    async def get_session(self, token_hash: str, now: float) -> tuple[StoredSession, ApiKey] | None:
        rows = await self._execute(_GET, {"token_hash": token_hash, "now": now})
        return (StoredSession(*rows[0][:6]), _key(rows[0][6:])) if rows else None

    async def delete_session(self, token_hash: str) -> None:
        await self._execute(_DELETE, {"token_hash": token_hash})

    async def purge_sessions(self, now: float) -> int:
        return len(await self._execute(_PURGE, {"now": now}))

    async def _execute(self, query: bytes, params: dict[str, Any]) -> list[Row]:
        with storage_errors():
            async with (await self._db.pool()).connection() as conn:
                cursor = await conn.execute(query, params)
                return await cursor.fetchall() if cursor.description else []
