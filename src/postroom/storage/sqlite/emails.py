"""Where an email's state and history are read and cancelled: the emails and events tables."""

import json
import sqlite3
from typing import Any

from postroom.domain.states import WAITING, State
from postroom.ports.emails import CancelOutcome, EmailFilter, EmailStatus, EmailSummary, Position
from postroom.ports.queue import Event
from postroom.storage.sql import in_list
from postroom.storage.sqlite.bulks import add_event, recipient_key
from postroom.storage.sqlite.connection import SqliteConnection

_CANCEL = (
    "UPDATE emails SET state = ?, available_at = NULL, updated_at = ?"
    f" WHERE id = ? AND state IN ({in_list(WAITING)})"
)


class SqliteEmailStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def status(self, email_id: str) -> EmailStatus | None:
        return await self._db.read(_status, email_id)

    async def count_since(self, owner: str, since: float) -> int:
        return await self._db.read(_count_since, owner, since)

    async def cancel(self, email_id: str) -> tuple[CancelOutcome, State | None]:
        return await self._db.write(lambda conn: self._cancel(conn, email_id))

    def _cancel(
        self, conn: sqlite3.Connection, email_id: str
    ) -> tuple[CancelOutcome, State | None]:
        now = self._clock.now()
        cursor = conn.execute(_CANCEL, (State.CANCELLED.value, now, email_id))
        if cursor.rowcount == 1:
            add_event(conn, email_id, Event(now, State.CANCELLED))
            return CancelOutcome.CANCELLED, State.CANCELLED
        row = conn.execute("SELECT state FROM emails WHERE id = ?", (email_id,)).fetchone()
        if row is None:
            return CancelOutcome.NOT_FOUND, None
        state = State(row[0])
        if state is State.CANCELLED:
            return CancelOutcome.CANCELLED, state
        return CancelOutcome.TOO_LATE, state

    async def find_by_provider_id(self, provider: str, message_id: str) -> str | None:
        return await self._db.read(_by_provider_id, provider, message_id)

    async def content(self, email_id: str) -> tuple[str, bytes] | None:
        return await self._db.read(_content, email_id)

    async def page(
        self, tenant: str, filters: EmailFilter, after: Position | None, limit: int
    ) -> list[EmailSummary]:
        return await self._db.read(_page, tenant, filters, after, limit)


def _status(conn: sqlite3.Connection, email_id: str) -> EmailStatus | None:
    row = conn.execute(
        "SELECT state, created_at, send_at, attempts, owner FROM emails WHERE id = ?", (email_id,)
    ).fetchone()
    if row is None:
        return None
    state, created_at, send_at, attempts, owner = row
    events = conn.execute(
        "SELECT at, state, provider, reason, outcome, code FROM events WHERE email_id = ?"
        " ORDER BY rowid",
        (email_id,),
    ).fetchall()
    first = Event(created_at, State.SCHEDULED if send_at > created_at else State.QUEUED)
    later = (Event(at, State(s), *rest) for at, s, *rest in events)
    history = (first, *later)
    return EmailStatus(email_id, State(state), created_at, send_at, attempts, history, owner)


def _count_since(conn: sqlite3.Connection, owner: str, since: float) -> int:
    query = "SELECT count(*) FROM emails WHERE owner = ? AND created_at >= ?"
    return int(conn.execute(query, (owner, since)).fetchone()[0])


def _by_provider_id(conn: sqlite3.Connection, provider: str, message_id: str) -> str | None:
    if not message_id:
        return None  # failed calls have no id; '' must not match them
    row = conn.execute(
        "SELECT email_id FROM attempts WHERE provider = ? AND message_id = ? LIMIT 1",
        (provider, message_id),
    ).fetchone()
    return str(row[0]) if row else None


def _content(conn: sqlite3.Connection, email_id: str) -> tuple[str, bytes] | None:
    row = conn.execute("SELECT owner, payload FROM emails WHERE id = ?", (email_id,)).fetchone()
    if row is None:
        return None
    # Retention sets a purged payload to NULL.
    return str(row[0]), bytes(row[1] or b"")


def _page(
    conn: sqlite3.Connection,
    tenant: str,
    filters: EmailFilter,
    after: Position | None,
    limit: int,
) -> list[EmailSummary]:
    """Through the email_recipients index for `to=`, the emails_tenant one otherwise; both
    read newest first, so the scan stops at the page's end."""
    if filters.recipient_key is not None:
        source, at, id_column = (
            "email_recipients r JOIN emails e ON e.id = r.email_id",
            "r",
            "r.email_id",
        )
        where, params = (
            ["r.tenant = ?", "r.key = ?"],
            [tenant, recipient_key(filters.recipient_key)],
        )
    else:
        source, at, id_column = "emails e", "e", "e.id"
        where, params = ["e.tenant = ?"], [tenant]
    for sql, values in _conditions(filters, after, at, id_column):
        where.append(sql)
        params.extend(values)
    query = (
        f"SELECT e.id, e.state, e.created_at, e.send_at, e.tags, e.provider FROM {source}"
        f" WHERE {' AND '.join(where)}"
        f" ORDER BY {at}.created_at DESC, {id_column} DESC LIMIT ?"
    )
    rows = conn.execute(query, (*params, limit)).fetchall()
    return [
        EmailSummary(i, State(state), created, send_at, tuple(json.loads(tags)), provider)
        for i, state, created, send_at, tags, provider in rows
    ]


def _conditions(
    filters: EmailFilter, after: Position | None, at: str, id_column: str
) -> list[tuple[str, list[Any]]]:
    """The WHERE terms of the filters given, with their values; `at` names the table whose
    created_at the page is ordered by."""
    terms: list[tuple[bool, str, list[Any]]] = [
        (filters.state is not None, "e.state = ?", [filters.state]),
        (filters.after is not None, f"{at}.created_at >= ?", [filters.after]),
        (filters.before is not None, f"{at}.created_at < ?", [filters.before]),
        (after is not None, f"({at}.created_at, {id_column}) < (?, ?)", list(after or ())),
        (
            filters.tag is not None,
            "EXISTS (SELECT 1 FROM json_each(e.tags) WHERE value = ?)",
            [filters.tag],
        ),
    ]
    return [(sql, values) for wanted, sql, values in terms if wanted]
