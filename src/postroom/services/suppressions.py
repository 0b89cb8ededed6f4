"""The suppression list as a use case: check recipients, add, remove, list (docs/suppressions.md).

Checked at intake (the client hears at once which recipients will not be sent to) and again just
before each send (an address suppressed while the email waited is still skipped).
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from postroom.domain.errors import CipherError
from postroom.domain.suppression import ALL_SCOPES, Reason, Suppression
from postroom.ports.clock import Clock
from postroom.ports.suppressions import SuppressionRecord, SuppressionStore
from postroom.services.addresses import AddressKeys

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class NewSuppression:
    address: str
    reason: Reason = Reason.MANUAL
    scope: str = ALL_SCOPES
    expires_at: float | None = None
    provider: str = ""
    event: str = ""
    email_id: str = ""


class SuppressionList:
    def __init__(self, store: SuppressionStore, keys: AddressKeys, clock: Clock) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock

    async def blocked(
        self,
        tenant: str,
        addresses: Sequence[str],
        tags: Collection[str],
        keys: Sequence[str] | None = None,
    ) -> set[int]:
        """The positions in `addresses` that an active entry of the tenant blocks for an email
        with these tags; one indexed lookup whatever the number of addresses. `keys`, when
        given, are the addresses' keys (AddressKeys.key), one per address, made already."""
        keys = keys if keys is not None else [self._keys.key(a) for a in addresses]
        found = await self._store.find(tenant, set(keys))
        if not found:
            return set()
        now = self._clock.now()
        hit = {
            r.key
            for r in found
            if (r.expires_at is None or r.expires_at > now)
            and (r.scope == ALL_SCOPES or r.scope in tags)
        }
        return {i for i, key in enumerate(keys) if key in hit}

    async def blocked_many(
        self,
        tenant: str,
        emails: Sequence[tuple[Sequence[str], Collection[str]]],
        keys: Sequence[Sequence[str]] | None = None,
    ) -> list[set[int]]:
        """`blocked` for each (addresses, tags) of a batch, in order, from one lookup. `keys`,
        when given, are each one's addresses' keys, made already."""
        if keys is None:
            keys = [[self._keys.key(a) for a in addresses] for addresses, _ in emails]
        found = await self._store.find(tenant, {k for some in keys for k in some})
        if not found:
            return [set() for _ in emails]
        now = self._clock.now()
        live = [r for r in found if r.expires_at is None or r.expires_at > now]
        return [
            {i for i, key in enumerate(some) if any(_applies(r, key, tags) for r in live)}
            for some, (_, tags) in zip(keys, emails, strict=True)
        ]

    async def add(self, tenant: str, entries: Sequence[NewSuppression]) -> int:
        """Store the entries in one write (the store's upsert rules apply)."""
        now = self._clock.now()
        return await self._store.suppress([self._record(tenant, e, now) for e in entries])

    def _record(self, tenant: str, entry: NewSuppression, now: float) -> SuppressionRecord:
        return SuppressionRecord(
            tenant=tenant,
            key=self._keys.key(entry.address),
            address=self._keys.seal(entry.address),
            scope=entry.scope,
            reason=str(entry.reason),
            created_at=now,
            expires_at=entry.expires_at,
            provider=entry.provider,
            event=entry.event,
            email_id=entry.email_id,
        )

    async def show(self, tenant: str, address: str) -> list[Suppression]:
        """Every entry for the address, expired ones included (each says when it lapses)."""
        found = await self._store.find(tenant, {self._keys.key(address)})
        return [self._entry(r) for r in found]

    async def remove(self, tenant: str, address: str, scope: str | None = None) -> int:
        return await self._store.remove(tenant, self._keys.key(address), scope)

    async def page(
        self, tenant: str, reason: Reason | None, cursor: str, limit: int
    ) -> tuple[list[Suppression], str | None]:
        records, after = await self._store.page(
            tenant, str(reason) if reason else None, cursor, min(limit, MAX_PAGE)
        )
        return [self._entry(r) for r in records], after

    def _entry(self, record: SuppressionRecord) -> Suppression:
        return Suppression(
            tenant=record.tenant,
            address=self._address(record.address),
            scope=record.scope,
            reason=Reason(record.reason),
            created_at=record.created_at,
            expires_at=record.expires_at,
            provider=record.provider,
            event=record.event,
            email_id=record.email_id,
        )

    def _address(self, stored: str) -> str:
        try:
            return self._keys.open(stored)
        except CipherError:
            return "(encrypted with a key that is not configured)"


def _applies(record: SuppressionRecord, key: str, tags: Collection[str]) -> bool:
    return record.key == key and (record.scope == ALL_SCOPES or record.scope in tags)
