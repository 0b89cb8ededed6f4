"""The SQLite engine's bulk writes: all new emails of a group transaction in one INSERT, all
settled leases in one UPDATE and one INSERT of their events (and one of their attempts); and one
bulk read, the suppression lookups of a batch in one SELECT."""

import sqlite3
from collections.abc import Sequence
from typing import Any

from postroom.domain.states import State
from postroom.ports.queue import Event, NewEmail
from postroom.storage.sql import json_tags
from postroom.storage.sqlite.commit import Bulk, BulkInsert, Row, flatten, values_sql
from postroom.storage.sqlite.feed import feed_recorded, last_seq

# A new email is one row; its first event (queued or scheduled at created_at) is read from it.
# Its recipients' keyed address hashes are rows of email_recipients, written beside it.
EMAIL_COLUMNS = (
    *("id", "state", "created_at", "updated_at", "send_at", "available_at", "owner", "payload"),
    *("tenant", "tags"),
)
_EMAIL_ROWS = BulkInsert("emails", EMAIL_COLUMNS)
_RECIPIENTS = BulkInsert("email_recipients", ("email_id", "key", "tenant", "created_at"))
_EMAILS_PER_INSERT = 3000  # 10 values each, under SQLite's 32766 bound variables
_RECIPIENTS_PER_INSERT = 8000  # 4 values each


def recipient_key(key: str) -> bytes:
    """A recipient's keyed address hash as email_recipients stores it (migration 0014): the
    first 128 bits of the hex HMAC, as 16 bytes. A text that is no such hash gives a value no
    stored key has (empty), so it finds nothing."""
    try:
        return bytes.fromhex(key[:32])
    except ValueError:
        return b""


EVENTS = BulkInsert("events", ("email_id", "at", "state", "provider", "reason"))
# Settling events: provider attempts carry an outcome class and a status code.
SETTLE_EVENTS = BulkInsert(
    "events", ("email_id", "at", "state", "provider", "reason", "outcome", "code")
)
ATTEMPTS = BulkInsert(
    "attempts", ("email_id", "at", "provider", "message_id", "outcome", "code", "duration_ms")
)
_CHUNK = 4000  # rows of at most 7 values: under SQLite's 32766 bound variables
# Provider events (and Postroom's own): an EventRecord's fields but seq, then state and
# not_before (storage/sqlite/events.py `_row`).
PROVIDER_EVENTS = BulkInsert(
    "provider_events",
    (
        *("provider", "dedup_key", "type", "at", "received_at", "recipient_key"),
        *("provider_message_id", "correlation_id", "reject_reason", "bounce", "description"),
        *("email_id", "recipient_index", "tenant", "state", "not_before"),
    ),
)
_EVENTS_CHUNK = 1000  # 16 values a row, under SQLite's 32766


def record_events(
    conn: sqlite3.Connection, rows: Sequence[Row], fed: bool, now: float
) -> tuple[int, int]:
    """Insert event rows, skipping those whose (provider, dedup_key) is stored, and when `fed`
    (some are matched) their feed items and webhook messages: (events stored, messages made)."""
    # Read only when the feed needs it: the batch's new events are those above it.
    after = last_seq(conn, "provider_events") if fed else 0
    new = 0
    for start in range(0, len(rows), _EVENTS_CHUNK):
        chunk = rows[start : start + _EVENTS_CHUNK]
        sql = f"{PROVIDER_EVENTS.sql(len(chunk))} ON CONFLICT (provider, dedup_key) DO NOTHING"
        new += conn.execute(sql, flatten(chunk)).rowcount
    return new, feed_recorded(conn, after, now) if fed and new else 0


def settle_row(
    lease_id: str,
    token: str,
    event: Event,
    attempts: Sequence[Event],
    available_at: float | None,
    dead: int,
    told: tuple[Row, ...] = (),
) -> Row:
    """A settle as SettleLeases takes it: the UPDATE's 8 columns, then the events' extras,
    then the rows of Postroom's own events recorded with it (PROVIDER_EVENTS rows)."""
    return (
        *(lease_id, token, event.state, available_at, dead),
        *(event.provider, event.at, event.reason),
        tuple(attempts),
        event,
        told,
    )


class SettleLeases:
    """Ack, retry and dead-letter for a whole batch: one UPDATE that only touches rows whose
    lease token still matches, then INSERTs of events for those rows (the lease's provider
    attempts first, then the settling event) and of their provider attempts. Postroom's own
    events a settle carries (its email's `sent`) go first, in one INSERT for the batch, stored
    whether or not the lease still matches (the provider took the email either way); a settle
    that carries some answers (settled, webhook messages the batch's own events made)."""

    single_statement = False
    intake = False
    settles = True
    _COLUMNS = 8  # id, token, state, available_at, dead, provider, at, reason; then attempts

    def run(self, conn: sqlite3.Connection, rows: Sequence[Row]) -> list[Any]:
        told = [event for row in rows for event in row[10]]
        # The first settle's time (its event's, read when it was made) dates the feed items.
        messages = record_events(conn, told, True, rows[0][6])[1] if told else 0
        updated = {
            row[0]
            for row in conn.execute(
                "UPDATE emails SET state = v.column3, available_at = v.column4, dead = v.column5,"
                " provider = v.column6, updated_at = v.column7, lease_token = NULL"
                f" FROM (VALUES {values_sql(len(rows), self._COLUMNS)}) AS v"
                " WHERE emails.id = v.column1 AND emails.lease_token = v.column2"
                " RETURNING emails.id",
                flatten([row[: self._COLUMNS] for row in rows]),
            )
        }
        settled = [(row[0], (*row[8], row[9])) for row in rows if row[0] in updated]
        events = [event_row(email_id, e) for email_id, history in settled for e in history]
        attempts = [
            attempt_row(email_id, e)
            for email_id, history in settled
            for e in history
            if e.is_attempt
        ]
        # Chunked: a batch with many failovers must stay under SQLite's variable limit.
        for bulk, values in ((SETTLE_EVENTS, events), (ATTEMPTS, attempts)):
            for start in range(0, len(values), _CHUNK):
                bulk.run(conn, values[start : start + _CHUNK])
        return [(row[0] in updated, messages) if row[10] else row[0] in updated for row in rows]


def event_row(email_id: str, event: Event) -> Row:
    return (
        email_id,
        event.at,
        event.state,
        event.provider,
        event.reason,
        event.outcome,
        event.code,
    )


def attempt_row(email_id: str, event: Event) -> Row:
    return (
        *(email_id, event.at, event.provider, event.message_id),
        *(event.outcome, event.code, event.duration_ms),
    )


def blob(value: bytes) -> bytearray:
    """A BLOB parameter the sqlite3 module binds at once. It binds `bytes` only after its
    adaptation lookup, which fails for bytes on each value and formats the AttributeError it
    then drops (about 1,200 instructions a value, callgrind; 0.27 µs, timeit); a bytearray is
    bound as the buffer it is, and copying 1 kB into one costs 0.1 µs."""
    return bytearray(value)


# The states a new email starts in, as the plain text SQLite stores. A StrEnum is a str
# subclass, which the sqlite3 module binds only after its adaptation lookup (0.4 µs a value,
# measured), and every new email binds one.
_QUEUED, _SCHEDULED = State.QUEUED.value, State.SCHEDULED.value


def insert_emails(conn: sqlite3.Connection, emails: Sequence[tuple[float, NewEmail]]) -> None:
    """New emails, each with its intake time, in multi-row INSERTs, then their recipients'
    keys in as few more. The values go straight into one flat list per table: a tuple per row
    rebuilt and flattened cost a batched email about 3 µs with the GIL held (py-spy), which
    the event loop then waited for."""
    values: list[Any] = []
    recipients: list[Any] = []
    # A batch's emails mostly carry the same tags, and often the same cc or bcc.
    tags_text: dict[tuple[str, ...], str] = {}
    compact: dict[str, bytearray] = {}
    for now, email in emails:
        tags = tags_text.get(email.tags)
        if tags is None:
            tags = tags_text[email.tags] = json_tags(email.tags)
        state = _SCHEDULED if email.scheduled else _QUEUED
        email_id, tenant, not_before = email.id, email.tenant, email.not_before
        values += (email_id, state, now, now, not_before, not_before, email.owner)
        values += (blob(email.payload), tenant, tags)
        for key in dict.fromkeys(email.recipient_keys):
            stored = compact.get(key)
            if stored is None:
                stored = compact[key] = blob(recipient_key(key))
            recipients += (email_id, stored, tenant, now)
    _insert_flat(conn, _EMAIL_ROWS, values, _EMAILS_PER_INSERT)
    _insert_flat(conn, _RECIPIENTS, recipients, _RECIPIENTS_PER_INSERT)


def _insert_flat(conn: sqlite3.Connection, bulk: BulkInsert, values: list[Any], rows: int) -> None:
    """`values` (row after row, flat) in INSERTs of at most `rows` rows."""
    width = len(bulk.columns)
    step = rows * width
    for start in range(0, len(values), step):
        part = values if len(values) <= step else values[start : start + step]
        conn.execute(bulk.sql(len(part) // width), part)


class NewEmails:
    """New emails of a group transaction, each row an (intake time, NewEmail): their rows and
    their recipients' keys in one INSERT each (two statements, so the batch is a transaction
    of its own)."""

    single_statement = False
    intake = True
    settles = False

    def run(self, conn: sqlite3.Connection, rows: Sequence[Row]) -> list[Any]:
        insert_emails(conn, rows)
        return [None] * len(rows)


def add_event(conn: sqlite3.Connection, email_id: str, event: Event) -> None:
    SETTLE_EVENTS.run(conn, [event_row(email_id, event)])


def initial_state(scheduled: bool) -> State:
    return State.SCHEDULED if scheduled else State.QUEUED


# A SuppressionRecord's fields, in its order.
SUPPRESSION_FIELDS = (
    *("tenant", "key", "address", "scope", "reason", "created_at", "expires_at"),
    *("provider", "event", "email_id"),
)


class FindSuppressions:
    """Suppression lookups, one row each: (tenant, keys); the result the rows of those keys.

    A read, done by the writer thread in the group transaction: intake submits an email's
    lookup beside its insert, so both land in one batch, cost one statement between them and
    are answered by the same hand-back to the event loop. Measured, a lookup of its own per email
    (on the reader thread, or inline on the event loop) cost a third more CPU per email: each
    sqlite3 call gives up the GIL and wins it back from two busy threads."""

    single_statement = True
    intake = False
    # Kept when a full file leaves only settles in the batch: a read never grows the file.
    settles = True

    def run(self, conn: sqlite3.Connection, rows: Sequence[Row]) -> list[Any]:
        wanted = sorted({(tenant, key) for tenant, keys in rows for key in keys})
        found: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            sql = (
                f"SELECT {', '.join(SUPPRESSION_FIELDS)} FROM suppressions"
                f" WHERE (tenant, key) IN (VALUES {values_sql(len(chunk), 2)})"
                " ORDER BY key, scope"
            )
            for row in conn.execute(sql, flatten(chunk)):
                found.setdefault((row[0], row[1]), []).append(row)
        return [
            [entry for key in keys for entry in found.get((tenant, key), ())]
            for tenant, keys in rows
        ]


BULKS: dict[str, Bulk] = {
    "new": NewEmails(),
    "settle": SettleLeases(),
    "find_suppressions": FindSuppressions(),
}
