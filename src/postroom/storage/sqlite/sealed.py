"""Stored content as a whole: payloads and event reasons, for key rotation and retention."""

import sqlite3
from collections.abc import Sequence
from typing import Any

from postroom.domain.states import FINAL, State
from postroom.ports.sealed import Reseal, ResealText
from postroom.storage.sql import in_list
from postroom.storage.sqlite.connection import SqliteConnection
from postroom.storage.sqlite.queue import IDEMPOTENCY_WINDOW

_PURGE = (
    "UPDATE emails SET payload = NULL"
    " WHERE payload IS NOT NULL AND available_at IS NULL AND updated_at < ?"
    f" AND state IN ({in_list(FINAL)}) RETURNING id"
)


class SqliteSealedContent:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def sample_payload(self) -> tuple[str, bytes] | None:
        row = await self._db.read(_newest_payload)
        return (row[0], row[1]) if row else None

    async def payloads(self, email_ids: Sequence[str]) -> dict[str, bytes]:
        return await self._db.read(_payloads, list(email_ids)) if email_ids else {}

    async def count_emails(self) -> int:
        return await self._db.read(_count_emails)

    async def purge_content(self, before: float) -> int:
        expired = self._clock.now() - IDEMPOTENCY_WINDOW
        return await self._db.write(lambda conn: _purge(conn, before, expired))

    async def reseal_page(
        self, after: str, limit: int, payload: Reseal, reason: ResealText
    ) -> tuple[int, str | None]:
        return await self._db.write(lambda conn: _reseal(conn, after, limit, payload, reason))


def _purge(conn: sqlite3.Connection, before: float, expired: float) -> int:
    ids = [row[0] for row in conn.execute(_PURGE, (before,))]
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        # A sent event's reason is the provider's message id: it stays.
        conn.execute(
            f"UPDATE events SET reason = '' WHERE state != ? AND email_id IN"
            f" ({', '.join('?' * len(part))})",
            (State.SENT.value, *part),
        )
        # The recipients' keys go with the content: a purged email is no longer found by `to=`.
        conn.execute(
            f"DELETE FROM email_recipients WHERE email_id IN ({', '.join('?' * len(part))})",
            part,
        )
    conn.execute("DELETE FROM idempotency WHERE created_at < ?", (expired,))
    return len(ids)


def _payloads(conn: sqlite3.Connection, email_ids: list[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for chunk in range(0, len(email_ids), 500):
        part = email_ids[chunk : chunk + 500]
        # Retention sets a purged payload to NULL.
        found.update(
            conn.execute(
                f"SELECT id, payload FROM emails WHERE id IN ({', '.join('?' * len(part))})"
                " AND payload IS NOT NULL",
                part,
            )
        )
    return found


def _newest_payload(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(
        "SELECT id, payload FROM emails WHERE payload IS NOT NULL ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return row


def _count_emails(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM emails").fetchone()[0])


def _reseal(
    conn: sqlite3.Connection, after: str, limit: int, payload: Reseal, reason: ResealText
) -> tuple[int, str | None]:
    rows = conn.execute(
        "SELECT id, payload FROM emails WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
    ).fetchall()
    changed = 0
    for email_id, stored in rows:
        context = email_id.encode()
        new = payload(stored, context) if stored is not None else None
        if new is not None:
            conn.execute("UPDATE emails SET payload = ? WHERE id = ?", (new, email_id))
            changed += 1
        changed += _reseal_reasons(conn, email_id, context, reason)
    return changed, (rows[-1][0] if rows else None)


def _reseal_reasons(
    conn: sqlite3.Connection, email_id: str, context: bytes, reason: ResealText
) -> int:
    changed = 0
    for rowid, text in conn.execute(
        "SELECT rowid, reason FROM events WHERE email_id = ? AND reason != ''", (email_id,)
    ).fetchall():
        new_text = reason(text, context)
        if new_text is not None:
            conn.execute("UPDATE events SET reason = ? WHERE rowid = ?", (new_text, rowid))
            changed += 1
    return changed
