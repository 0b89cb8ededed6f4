"""Where API keys are stored in PostgreSQL: postroom_api_keys, hashes only."""

from typing import Any

from postroom.domain.keys import DEFAULT_SCOPES, DEFAULT_TENANT, scopes_from_text, scopes_text
from postroom.ports.keys import ApiKey
from postroom.storage.postgres.connection import PostgresConnection


class PostgresKeyStore:
    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def create_key(
        self,
        key_id: str,
        name: str,
        token_hash: str,
        prefix: str,
        tenant: str = DEFAULT_TENANT,
        scopes: frozenset[str] = DEFAULT_SCOPES,
        expires_at: float | None = None,
    ) -> ApiKey:
        now = self._clock.now()
        key = ApiKey(key_id, name, prefix, now, None, None, tenant, scopes, expires_at)
        params = {"id": key_id, "name": name, "token_hash": token_hash, "prefix": prefix}
        stored = {"scopes": scopes_text(scopes), "expires_at": expires_at}
        await self._db.fetch("create_key", {**params, "now": now, "tenant": tenant, **stored})
        return key

    async def active_keys(self) -> dict[str, ApiKey]:
        rows = await self._db.fetch("keys", {"active": True})
        return {row[0]: _key(row[1:]) for row in rows}

    async def list_keys(self) -> list[ApiKey]:
        return [_key(row[1:]) for row in await self._db.fetch("keys", {"active": False})]

    async def revoke_key(self, id_or_prefix: str) -> ApiKey | None:
        params = {"key": id_or_prefix, "now": self._clock.now()}
        rows = await self._db.fetch("revoke_key", params)
        return _key(rows[0]) if rows else None

    async def touch_keys(self, used: dict[str, float]) -> None:
        if used:
            await self._db.fetch("touch_keys", {"ids": list(used), "ats": list(used.values())})


def _key(row: Any) -> ApiKey:
    """An ApiKey from a row ending in scopes (domain/keys.py scopes_text) and expires_at."""
    key_id, name, prefix, created_at, last_used_at, revoked_at, tenant, scopes, expires_at = row
    return ApiKey(
        key_id,
        name,
        prefix,
        created_at,
        last_used_at,
        revoked_at,
        tenant,
        scopes_from_text(scopes),
        expires_at,
    )
