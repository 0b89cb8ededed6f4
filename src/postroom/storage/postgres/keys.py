"""Where API keys are stored in PostgreSQL: postroom_api_keys, hashes only."""

from postroom.domain.keys import DEFAULT_TENANT
from postroom.ports.keys import ApiKey
from postroom.storage.postgres.connection import PostgresConnection


class PostgresKeyStore:
    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def create_key(
        self, key_id: str, name: str, token_hash: str, prefix: str, tenant: str = DEFAULT_TENANT
    ) -> ApiKey:
        key = ApiKey(key_id, name, prefix, self._clock.now(), tenant=tenant)
        params = {"id": key_id, "name": name, "token_hash": token_hash, "prefix": prefix}
        await self._db.fetch("create_key", {**params, "now": key.created_at, "tenant": tenant})
        return key

    async def active_keys(self) -> dict[str, ApiKey]:
        rows = await self._db.fetch("keys", {"active": True})
        return {row[0]: ApiKey(*row[1:]) for row in rows}

    async def list_keys(self) -> list[ApiKey]:
        return [ApiKey(*row[1:]) for row in await self._db.fetch("keys", {"active": False})]

    async def revoke_key(self, id_or_prefix: str) -> ApiKey | None:
        params = {"key": id_or_prefix, "now": self._clock.now()}
        rows = await self._db.fetch("revoke_key", params)
        return ApiKey(*rows[0]) if rows else None

    async def touch_keys(self, used: dict[str, float]) -> None:
        if used:
            await self._db.fetch("touch_keys", {"ids": list(used), "ats": list(used.values())})
