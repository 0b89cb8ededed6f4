"""The key store port: API keys, kept as hashes."""

from dataclasses import dataclass
from typing import Protocol

from postroom.domain.keys import DEFAULT_SCOPES, DEFAULT_TENANT


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
    # What the key may do (domain/keys.py SCOPES; `admin` implies the rest).
    scopes: frozenset[str] = DEFAULT_SCOPES
    # When the key stops working (Unix seconds); None: never. Checked at every request.
    expires_at: float | None = None


class KeyStore(Protocol):
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
        """Store a new key (its hash only) with its scopes and expiry, and return it; every
        listing gives back the same scopes and expiry."""
        ...

    async def active_keys(self) -> dict[str, ApiKey]:
        """Every key not revoked, by token hash; expired ones included (the caller compares
        the expiry with its clock at each request, so a cached set never outlives one)."""
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
