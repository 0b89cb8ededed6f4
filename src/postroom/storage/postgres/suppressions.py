"""The suppression list in PostgreSQL: postroom_suppressions, keyed (tenant, key, scope).

`find` runs on every intake and every send: lookups that arrive together share one statement
probing the primary key (a round trip each would cost intake as much as the insert does). The
SQL is in queries.sql."""

from collections.abc import Collection, Sequence
from typing import Any

from postroom.ports.suppressions import SuppressionRecord
from postroom.storage.coalesce import Coalescer
from postroom.storage.cursors import cursor_of, parts_of
from postroom.storage.postgres.connection import PostgresConnection
from postroom.storage.postgres.options import storage_errors
from postroom.storage.postgres.queries import Row, columns, rows

# suppress's arrays, in the order of a SuppressionRecord's fields.
_COLUMNS = (
    *("tenants", "keys", "addresses", "scopes", "reasons", "created", "expires"),
    *("providers", "events", "email_ids"),
)


class PostgresSuppressionStore:
    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection
        self._finds = Coalescer(self._find_batch, connection.options.parallel_writes)

    async def suppress(self, entries: Sequence[SuppressionRecord]) -> int:
        batches = [_params(batch) for batch in _rounds(entries)]
        if not batches:
            return 0
        if len(batches) == 1:
            return len(await self._db.fetch("suppress", batches[0]))
        # One upsert may change a row only once: a batch that repeats an address goes in
        # rounds, in its order, in one transaction.
        changed = 0
        with storage_errors():
            async with (await self._db.pool()).connection() as conn, conn.transaction():
                for batch in batches:
                    changed += len(await rows(conn, "suppress", batch))
        return changed

    async def find(self, tenant: str, keys: Collection[str]) -> list[SuppressionRecord]:
        if not keys:
            return []
        return list(await self._finds.submit((tenant, tuple(sorted(set(keys))))))

    async def _find_batch(self, lookups: list[Row]) -> list[list[SuppressionRecord]]:
        """Every lookup's entries, in the lookups' order, from one statement."""
        pairs = {(tenant, key) for tenant, keys in lookups for key in keys}
        params = {"tenants": [t for t, _ in pairs], "keys": [k for _, k in pairs]}
        found = [
            SuppressionRecord(*row) for row in await self._db.fetch("find_suppressions", params)
        ]
        return [
            [r for r in found if r.tenant == tenant and r.key in set(keys)]
            for tenant, keys in lookups
        ]

    async def remove(self, tenant: str, key: str, scope: str | None = None) -> int:
        params = {"tenant": tenant, "key": key, "scope": scope}
        return len(await self._db.fetch("remove_suppressions", params))

    async def page(
        self, tenant: str, reason: str | None, after: str, limit: int
    ) -> tuple[list[SuppressionRecord], str | None]:
        start = parts_of(after, 2)
        key, scope = start or ("", "")
        params = {
            **{"tenant": tenant, "reason": reason, "first": start is None},
            **{"key": key, "scope": scope, "limit": max(limit, 0) + 1},
        }
        listed = await self._db.fetch("page_suppressions", params)
        found = [SuppressionRecord(*row) for row in listed]
        page = found[:limit]
        if len(found) > len(page) and page:
            return page, cursor_of(page[-1].key, page[-1].scope)
        return page, None


def _rounds(entries: Sequence[SuppressionRecord]) -> list[list[SuppressionRecord]]:
    """The entries in rounds with one entry per (tenant, key, scope) each: the n-th entry for
    an address goes in the n-th round, so the rounds keep the order of its entries."""
    rounds: list[list[SuppressionRecord]] = []
    seen: dict[tuple[str, str, str], int] = {}
    for entry in entries:
        slot = (entry.tenant, entry.key, entry.scope)
        n = seen[slot] = seen.get(slot, -1) + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(entry)
    return rounds


def _params(entries: list[SuppressionRecord]) -> dict[str, list[Any]]:
    values: list[Row] = [
        (
            *(e.tenant, e.key, e.address, e.scope, e.reason, e.created_at, e.expires_at),
            *(e.provider, e.event, e.email_id),
        )
        for e in entries
    ]
    return columns(_COLUMNS, values)
