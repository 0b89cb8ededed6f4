"""Webhook endpoints, the feed and the outbox in SQLite: webhook_endpoints, feed_items,
webhook_messages and webhook_attempts (ports/webhooks.py).

Every change is one operation of the group commit (commit.py), fsynced before the caller hears
back; a settle's attempts, its messages, its endpoints and a disabled endpoint's feed item with
its fan-out are one operation, so one transaction. Reads go to the reader connection."""

import sqlite3
from collections.abc import Sequence
from typing import Any

from postroom.ports.webhooks import (
    Attempt,
    Endpoint,
    FeedItem,
    Leased,
    Message,
    MessageState,
    NewMessage,
    Outcome,
)
from postroom.storage.sqlite.commit import BulkInsert, Row, flatten, values_sql
from postroom.storage.sqlite.connection import SqliteConnection
from postroom.storage.sqlite.feed import ITEM_FIELDS, ITEM_JOIN, append_disabled, read_feed
from postroom.storage.webhook_rows import (
    disables,
    endpoint_changes,
    message_changes,
    secrets_of,
    secrets_text,
    types_of,
    types_text,
)

PENDING = MessageState.PENDING.value
FAILED = MessageState.FAILED.value

_ENDPOINT = BulkInsert(
    "webhook_endpoints",
    (
        *("id", "tenant", "url", "types", "description", "enabled", "secrets"),
        *("created_at", "updated_at", "disabled_reason", "failing_since"),
    ),
)
_ENDPOINT_FIELDS = ", ".join(_ENDPOINT.columns)
_UPDATE_ENDPOINT = (
    "UPDATE webhook_endpoints SET "
    + ", ".join(f"{column} = ?" for column in _ENDPOINT.columns[2:])
    + " WHERE tenant = ? AND id = ?"
)
_MESSAGE = BulkInsert(
    "webhook_messages",
    (
        *("webhook_id", "endpoint_id", "tenant", "type", "payload", "state", "attempts"),
        *("created_at", "next_at"),
    ),
)
_ATTEMPT = BulkInsert(
    "webhook_attempts",
    (*("message_id", "webhook_id", "endpoint_id", "at", "status", "latency", "response"), "error"),
)
# A Message's fields but its item, then feed_seq; the item's (when any). The endpoints are
# read apart, once each: repeated on every row they made a lease a third dearer (measured).
_LEASED = (
    "SELECT m.id, m.webhook_id, m.endpoint_id, m.tenant, m.type, m.state, m.attempts,"
    f" m.created_at, m.next_at, m.payload, m.feed_seq, {ITEM_FIELDS}"
    f" FROM webhook_messages m LEFT JOIN feed_items f ON f.seq = m.feed_seq {ITEM_JOIN}"
)
# Due messages of enabled endpoints in lease order: a range of the (state, next_at) index,
# which ends with the id, so no sorting.
_DUE = (
    "FROM webhook_messages m JOIN webhook_endpoints w ON w.id = m.endpoint_id"
    " WHERE m.state = ? AND m.next_at <= ? AND w.enabled ORDER BY m.next_at, m.id LIMIT ?"
)
_SETTLE_MESSAGES = (
    "UPDATE webhook_messages SET state = v.column2, next_at = coalesce(v.column3, next_at),"
    " attempts = attempts + v.column4 FROM (VALUES {}) AS v WHERE webhook_messages.id = v.column1"
)
# A success resets failing_since to the first failure after it (NULL when none came); an
# endpoint it leaves as it was (a healthy one) is not written.
_FAILING_SINCE = "CASE WHEN v.column2 THEN v.column3 ELSE coalesce(failing_since, v.column3) END"
_SETTLE_ENDPOINTS = (
    f"UPDATE webhook_endpoints SET failing_since = {_FAILING_SINCE}"
    " FROM (VALUES {}) AS v WHERE webhook_endpoints.id = v.column1"
    f" AND failing_since IS NOT {_FAILING_SINCE}"
)
_REPLAY = (
    "UPDATE webhook_messages SET state = ?, attempts = 0, next_at = ?"
    " WHERE endpoint_id = ? AND tenant = ? AND created_at >= ? AND created_at < ?"
    " AND (NOT ? OR state = ?) AND (? = '' OR webhook_id = ?)"
)
_ATTEMPTS = (
    "SELECT message_id, webhook_id, endpoint_id, at, status, latency, response, error, id"
    " FROM webhook_attempts WHERE endpoint_id = ? AND (? <= 0 OR id < ?)"
    " AND EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ? AND tenant = ?)"
    " ORDER BY id DESC LIMIT ?"
)
# Rows per statement, under SQLite's 32766 parameters.
_CHUNK = 1000


class SqliteWebhookStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def create_endpoint(self, endpoint: Endpoint) -> None:
        row = _endpoint_row(endpoint)
        await self._db.write(lambda conn: conn.execute(_ENDPOINT.sql(1), row).rowcount)

    async def get_endpoint(self, tenant: str, endpoint_id: str) -> Endpoint | None:
        found = await self._db.read(_endpoints, "tenant = ? AND id = ?", (tenant, endpoint_id))
        return found[0] if found else None

    async def list_endpoints(self, tenant: str) -> list[Endpoint]:
        return await self._db.read(_endpoints, "tenant = ?", (tenant,))

    async def update_endpoint(self, endpoint: Endpoint) -> bool:
        row = _endpoint_row(endpoint)
        params = (*row[2:], endpoint.tenant, endpoint.id)
        changed = await self._db.write(lambda conn: conn.execute(_UPDATE_ENDPOINT, params).rowcount)
        return bool(changed)

    async def delete_endpoint(self, tenant: str, endpoint_id: str) -> bool:
        return await self._db.write(lambda conn: _delete_endpoint(conn, tenant, endpoint_id))

    async def enqueue(self, messages: Sequence[NewMessage]) -> None:
        now = self._clock.now()
        rows = [_message_row(message, now) for message in messages]
        if rows:
            await self._db.write(lambda conn: _insert(conn, _MESSAGE, rows))

    async def lease(self, limit: int, now: float, hold: float) -> list[Leased]:
        return await self._db.write(lambda conn: _lease(conn, limit, now, hold))

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        if outcomes:
            now = self._clock.now()
            await self._db.write(lambda conn: _settle(conn, outcomes, now))

    async def attempts(
        self, tenant: str, endpoint_id: str, limit: int, before: int = 0
    ) -> list[Attempt]:
        params = (endpoint_id, before, before, endpoint_id, tenant, max(limit, 0))
        return await self._db.read(_attempts, params)

    async def replay(
        self,
        tenant: str,
        endpoint_id: str,
        since: float,
        until: float,
        failed_only: bool,
        now: float,
        webhook_id: str = "",
    ) -> int:
        params = (
            *(PENDING, now, endpoint_id, tenant, since, until),
            *(failed_only, FAILED, webhook_id, webhook_id),
        )
        return await self._db.write(lambda conn: conn.execute(_REPLAY, params).rowcount)

    async def feed(
        self, tenant: str, after: int, types: Sequence[str], limit: int
    ) -> list[FeedItem]:
        return await self._db.read(read_feed, tenant, after, types_text(types), max(limit, 0))

    async def counts(self) -> dict[str, int]:
        return await self._db.read(_counts)

    async def purge_webhooks(self, before: float) -> int:
        return await self._db.write(lambda conn: _purge(conn, before))


def _endpoint_row(endpoint: Endpoint) -> Row:
    return (
        *(endpoint.id, endpoint.tenant, endpoint.url, types_text(endpoint.types)),
        *(endpoint.description, endpoint.enabled, secrets_text(endpoint.secrets)),
        *(endpoint.created_at, endpoint.updated_at, endpoint.disabled_reason),
        endpoint.failing_since,
    )


def endpoint_of(row: Sequence[Any]) -> Endpoint:
    return Endpoint(
        *(row[0], row[1], row[2], types_of(row[3]), row[4], bool(row[5]), secrets_of(row[6])),
        *row[7:11],
    )


def _endpoints(conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[Endpoint]:
    rows = conn.execute(
        f"SELECT {_ENDPOINT_FIELDS} FROM webhook_endpoints WHERE {where} ORDER BY created_at, id",
        params,
    ).fetchall()
    return [endpoint_of(row) for row in rows]


def _delete_endpoint(conn: sqlite3.Connection, tenant: str, endpoint_id: str) -> bool:
    gone = conn.execute(
        "DELETE FROM webhook_endpoints WHERE tenant = ? AND id = ?", (tenant, endpoint_id)
    ).rowcount
    if gone:
        conn.execute("DELETE FROM webhook_messages WHERE endpoint_id = ?", (endpoint_id,))
        conn.execute("DELETE FROM webhook_attempts WHERE endpoint_id = ?", (endpoint_id,))
    return bool(gone)


def _message_row(message: NewMessage, now: float) -> Row:
    return (
        *(message.webhook_id, message.endpoint_id, message.tenant, message.type),
        *(message.payload, PENDING, 0, now, message.next_at),
    )


def _insert(conn: sqlite3.Connection, insert: BulkInsert, rows: Sequence[Row]) -> None:
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        conn.execute(insert.sql(len(chunk)), flatten(chunk))


def _lease(conn: sqlite3.Connection, limit: int, now: float, hold: float) -> list[Leased]:
    # Read, then pushed back: the same rows, since the writer holds the write lock throughout.
    rows = conn.execute(
        f"{_LEASED} WHERE m.id IN (SELECT m.id {_DUE}) ORDER BY m.next_at, m.id",
        (PENDING, now, limit),
    ).fetchall()
    if not rows:
        return []
    conn.execute(
        f"UPDATE webhook_messages SET next_at = ? WHERE id IN (SELECT m.id {_DUE})",
        (now + hold, PENDING, now, limit),
    )
    ids = list({row[2] for row in rows})
    found = _endpoints(conn, f"id IN ({', '.join('?' * len(ids))})", tuple(ids))
    endpoints = {endpoint.id: endpoint for endpoint in found}
    return [_leased(row, now + hold, endpoints[row[2]]) for row in rows]


def _leased(row: Sequence[Any], until: float, endpoint: Endpoint) -> Leased:
    """A row of _LEASED as the port's Leased, its message hidden until `until`."""
    item = FeedItem(*row[11:]) if row[11] is not None else None
    message = Message(
        *(row[0], row[1], row[2], row[3], row[4], MessageState(row[5]), row[6], row[7]),
        *(until, row[9], item),
    )
    return Leased(message, endpoint)


def _settle(conn: sqlite3.Connection, outcomes: Sequence[Outcome], now: float) -> None:
    _insert(conn, _ATTEMPT, [_attempt_row(outcome.attempt) for outcome in outcomes])
    messages = [(c.id, c.state.value, c.next_at, c.attempts) for c in message_changes(outcomes)]
    _update(conn, _SETTLE_MESSAGES, messages)
    endpoints = [(c.endpoint_id, c.reset, c.since) for c in endpoint_changes(outcomes)]
    _update(conn, _SETTLE_ENDPOINTS, endpoints)
    for outcome in disables(outcomes):
        _disable(conn, outcome, now)


def _attempt_row(attempt: Attempt) -> Row:
    return (
        *(attempt.message_id, attempt.webhook_id, attempt.endpoint_id, attempt.at),
        *(attempt.status, attempt.latency, attempt.response, attempt.error),
    )


def _update(conn: sqlite3.Connection, sql: str, rows: list[Row]) -> None:
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        conn.execute(sql.format(values_sql(len(chunk), len(chunk[0]))), flatten(chunk))


def _disable(conn: sqlite3.Connection, outcome: Outcome, now: float) -> None:
    """Only an enabled endpoint is disabled, so two outcomes racing to it add one item."""
    endpoint_id = outcome.attempt.endpoint_id
    found = conn.execute(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?"
        " WHERE id = ? AND enabled RETURNING tenant",
        (outcome.disable_reason, endpoint_id),
    ).fetchall()
    for (tenant,) in found:
        append_disabled(conn, tenant, outcome.attempt.at, outcome.disabled_data, now, endpoint_id)


def _attempts(conn: sqlite3.Connection, params: tuple[Any, ...]) -> list[Attempt]:
    return [Attempt(*row) for row in conn.execute(_ATTEMPTS, params).fetchall()]


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    found = dict(conn.execute("SELECT state, count(*) FROM webhook_messages GROUP BY state"))
    return {state.value: int(found.get(state.value, 0)) for state in MessageState}


def _purge(conn: sqlite3.Connection, before: float) -> int:
    conn.execute(
        "DELETE FROM webhook_messages WHERE created_at < ? AND state <> ?", (before, PENDING)
    )
    conn.execute("DELETE FROM webhook_attempts WHERE at < ?", (before,))
    return conn.execute("DELETE FROM feed_items WHERE created_at < ?", (before,)).rowcount
