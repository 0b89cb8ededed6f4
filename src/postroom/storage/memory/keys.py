"""The memory engine's API keys."""

from dataclasses import replace

from postroom.domain.keys import DEFAULT_SCOPES, DEFAULT_TENANT
from postroom.ports.keys import ApiKey
from postroom.storage.memory.state import MemoryState


class MemoryKeyStore:
    def __init__(self, state: MemoryState) -> None:
        self._keys = state.api_keys
        self._clock = state.clock

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
        key = ApiKey(key_id, name, prefix, now, None, None, tenant, frozenset(scopes), expires_at)
        self._keys[token_hash] = key
        return key

    async def active_keys(self) -> dict[str, ApiKey]:
        return {h: k for h, k in self._keys.items() if k.revoked_at is None}

    async def list_keys(self) -> list[ApiKey]:
        return sorted(self._keys.values(), key=lambda k: (k.created_at, k.id))

    async def revoke_key(self, id_or_prefix: str) -> ApiKey | None:
        for token_hash, key in self._keys.items():
            if id_or_prefix in (key.id, key.prefix):
                revoked = replace(key, revoked_at=key.revoked_at or self._clock.now())
                self._keys[token_hash] = revoked
                return revoked
        return None

    async def touch_keys(self, used: dict[str, float]) -> None:
        for token_hash, key in self._keys.items():
            if key.id in used:
                self._keys[token_hash] = replace(key, last_used_at=used[key.id])
