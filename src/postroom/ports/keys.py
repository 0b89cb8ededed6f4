"""The key store port: API keys, kept as hashes."""

from dataclasses import dataclass
from typing import Protocol

from postroom.domain.keys import DEFAULT_TENANT


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    prefix: str  # the first characters of the token, for telling keys apart
    created_at: float
    last_used_at: float | None = None
    revoked_at: float | None = None
    # Whose suppression list (and, later, events and webhooks) the key's emails share.
    tenant: str = DEFAULT_TENANT


class KeyStore(Protocol):
    async def create_key(
        self, key_id: str, name: str, token_hash: str, prefix: str, tenant: str = DEFAULT_TENANT
    ) -> ApiKey:
        """Store a new key (its hash only) and return it."""
        ...

    async def active_keys(self) -> dict[str, ApiKey]:
        """Every key not revoked, by token hash."""
        ...

    async def list_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        ...

    async def revoke_key(self, id_or_prefix: str) -> ApiKey | None:
        """Revoke the key with this id or visible prefix; None when there is none."""
        ...

    async def touch_keys(self, used: dict[str, float]) -> None:
        """Record when keys (by id) were last used."""
        ...
