"""Where the suppression list is kept: the suppressions table, keyed (tenant, key, scope).

`find` runs on every intake and every send: a bulk read in the group transaction (bulks.py
FindSuppressions), so the lookups of a batch are one statement beside its inserts. Changes go
through the group commit."""

import sqlite3
from collections.abc import Collection, Sequence

from postroom.ports.suppressions import SuppressionRecord
from postroom.storage.cursors import cursor_of, parts_of
from postroom.storage.sqlite.commit import BulkInsert, Row, flatten
from postroom.storage.sqlite.connection import SqliteConnection

_INSERT = BulkInsert(
    "suppressions",
    (
        *("tenant", "key", "address", "scope", "reason", "created_at", "expires_at"),
        *("provider", "event", "email_id"),
    ),
)
_FIELDS = ", ".join(_INSERT.columns)  # a SuppressionRecord's, in its order
# The port's replace rule: the stored entry has expired by the new one's creation, or it
# expires and the new one never does. Rows of one statement apply in order, so two entries
# for one address in a batch meet the rule as two calls would.
_UPSERT = (
    " ON CONFLICT (tenant, key, scope) DO UPDATE SET address = excluded.address,"
    " reason = excluded.reason, created_at = excluded.created_at,"
    " expires_at = excluded.expires_at, provider = excluded.provider, event = excluded.event,"
    " email_id = excluded.email_id"
    " WHERE suppressions.expires_at IS NOT NULL"
    " AND (suppressions.expires_at <= excluded.created_at OR excluded.expires_at IS NULL)"
)
# Rows per statement (10 values each) and keys per lookup: under SQLite's 32766 variables.
_CHUNK = 1000


class SqliteSuppressionStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    async def suppress(self, entries: Sequence[SuppressionRecord]) -> int:
        rows = [_row(entry) for entry in entries]
        return await self._db.write(lambda conn: _suppress(conn, rows)) if rows else 0

    async def find(self, tenant: str, keys: Collection[str]) -> list[SuppressionRecord]:
        unique = tuple(sorted(set(keys)))
        if not unique:
            return []
        rows = await self._db.bulk("find_suppressions", (tenant, unique))
        return [SuppressionRecord(*row) for row in rows]

    async def remove(self, tenant: str, key: str, scope: str | None = None) -> int:
        sql = "DELETE FROM suppressions WHERE tenant = ? AND key = ?"
        params: tuple[str, ...] = (tenant, key)
        if scope is not None:
            sql, params = f"{sql} AND scope = ?", (*params, scope)
        return await self._db.write(lambda conn: conn.execute(sql, params).rowcount)

    async def page(
        self, tenant: str, reason: str | None, after: str, limit: int
    ) -> tuple[list[SuppressionRecord], str | None]:
        start = parts_of(after, 2)
        found = await self._db.read(_page, tenant, reason, start, limit)
        page = found[:limit]
        if len(found) > len(page) and page:
            return page, cursor_of(page[-1].key, page[-1].scope)
        return page, None


def _row(entry: SuppressionRecord) -> Row:
    return (
        *(entry.tenant, entry.key, entry.address, entry.scope, entry.reason),
        *(entry.created_at, entry.expires_at, entry.provider, entry.event, entry.email_id),
    )


def _suppress(conn: sqlite3.Connection, rows: list[Row]) -> int:
    changed = 0
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        changed += conn.execute(_INSERT.sql(len(chunk)) + _UPSERT, flatten(chunk)).rowcount
    return changed


def _page(
    conn: sqlite3.Connection,
    tenant: str,
    reason: str | None,
    start: tuple[str, ...] | None,
    limit: int,
) -> list[SuppressionRecord]:
    """Up to limit + 1 entries: one more tells whether there is a next page."""
    where, params = ["tenant = ?"], [tenant]
    if reason is not None:
        where.append("reason = ?")
        params.append(reason)
    if start is not None:
        # The primary key's own order: a page is a range of its index, and an entry replaced
        # while a client pages keeps its place.
        where.append("(key, scope) > (?, ?)")
        params.extend(start)
    rows = conn.execute(
        f"SELECT {_FIELDS} FROM suppressions WHERE {' AND '.join(where)}"
        " ORDER BY key, scope LIMIT ?",
        (*params, max(limit, 0) + 1),
    ).fetchall()
    return [SuppressionRecord(*row) for row in rows]
