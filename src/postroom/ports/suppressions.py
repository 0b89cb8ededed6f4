"""The suppression store: per tenant, per address (by keyed hash), per scope."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SuppressionRecord:
    tenant: str
    key: str  # keyed hash of the normalised address: what lookups use
    address: str  # the normalised address, sealed when encryption at rest is on
    scope: str  # "*" or a stream (tag)
    reason: str  # domain/suppression.py Reason
    created_at: float
    expires_at: float | None = None
    provider: str = ""
    event: str = ""
    email_id: str = ""


class SuppressionStore(Protocol):
    async def suppress(self, entries: Sequence[SuppressionRecord]) -> int:
        """Store the entries in one write; how many rows changed. One row per (tenant, key,
        scope): a stored entry is replaced only when it has expired by the new one's
        created_at, or expires while the new one does not (a complaint outranks a soft-bounce
        entry; a second soft-bounce entry does not extend the first)."""
        ...

    async def find(self, tenant: str, keys: Collection[str]) -> list[SuppressionRecord]:
        """Every entry of the tenant for any of `keys`, any scope, expired ones included (the
        caller decides what applies): one indexed lookup, cheap enough for every send."""
        ...

    async def remove(self, tenant: str, key: str, scope: str | None = None) -> int:
        """Delete the address's entries (of one scope, or all); how many were deleted."""
        ...

    async def page(
        self, tenant: str, reason: str | None, after: str, limit: int
    ) -> tuple[list[SuppressionRecord], str | None]:
        """Up to `limit` entries of the tenant (of one reason, or all), in a stable order after
        the cursor `after` ("" for the first page); the cursor of the next page, None at the end."""
        ...
