"""Where provider events are kept: the provider_events and replay_tokens tables.

Every change is one operation of the group commit (commit.py), so it is fsynced before the
caller hears back and shares the batch's transaction. A batch of events goes in multi-row
INSERTs, not one statement per event: each statement gives up the GIL and must win it back
from the event loop (docs/storage.md). Events that are matched (Postroom's own, recorded so, or
resolved) reach the feed and its webhooks in the same write (feed.py)."""

import sqlite3
from collections.abc import Sequence
from typing import Any

from postroom.domain.events import Bounce, EventType
from postroom.ports.events import (
    PENDING,
    EventRecord,
    Recorded,
    RecordOutcome,
    Replay,
    Resolution,
    Resolved,
)
from postroom.ports.queue import Event, Lease
from postroom.storage.sqlite.bulks import PROVIDER_EVENTS, record_events, settle_row
from postroom.storage.sqlite.commit import Row, flatten, values_sql
from postroom.storage.sqlite.connection import SqliteConnection
from postroom.storage.sqlite.feed import drop_items_of_events, feed_resolved

MATCHED = Resolution.MATCHED.value
UNMATCHED = Resolution.UNMATCHED.value

# An EventRecord's fields, in its order.
_COLUMNS = PROVIDER_EVENTS.columns
_FIELDS = ", ".join((*_COLUMNS[:11], "seq", *_COLUMNS[11:14]))
# Due pending events in hand-out order: a range of the pending events' (not_before) index
# (migration 0015), which ends with the rowid (seq), so no sorting. The state is written as
# the index's condition is, or SQLite would not know the index holds every row asked for.
_DUE = (
    f"FROM provider_events WHERE state = '{PENDING}' AND not_before <= ?"
    " ORDER BY not_before, seq LIMIT ?"
)
_RESOLVE = (
    "UPDATE provider_events SET state = v.column2, email_id = v.column3,"
    " recipient_index = v.column4, tenant = v.column5,"
    " not_before = coalesce(v.column6, not_before)"
    " FROM (VALUES {}) AS v WHERE provider_events.seq = v.column1 AND provider_events.state = ?"
)
# A range of the partial provider_events_recipient index (migration 0015): `type = 'bounced'`
# as its condition is written, or SQLite would not know the index holds every row asked for.
_SOFT_BOUNCES = (
    "SELECT count(*) FROM provider_events WHERE tenant = ? AND recipient_key = ? AND at >= ?"
    " AND state = ? AND type = 'bounced' AND bounce = ?"
)
# Rows per statement: 6 values each for resolutions, under SQLite's 32766.
_CHUNK = 1000


class SqliteEventStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def record(self, events: Sequence[EventRecord], replay: Replay | None = None) -> Recorded:
        rows = [_row(event) for event in events]
        fed = any(_feeds(event) for event in events)
        # A provider's events are intake: they arrive from outside without bound (opens,
        # clicks), so at the size cap they are refused (the provider sends them again later)
        # and the headroom stays for delivering the emails already accepted (space.py).
        # Postroom's own (recorded matched) are part of that delivery: a `sent` refused at the
        # cap would hold up the settle of an email already sent.
        intake = not all(event.email_id for event in events)
        return await self._db.write(
            lambda conn: self._record(conn, rows, replay, fed), intake=intake
        )

    def _record(
        self, conn: sqlite3.Connection, rows: list[Row], replay: Replay | None, fed: bool
    ) -> Recorded:
        if replay is not None:
            found = conn.execute(
                "SELECT digest FROM replay_tokens WHERE token = ?", (replay.token,)
            ).fetchone()
            if found is not None:
                same = found[0] == replay.digest
                return Recorded(RecordOutcome.DUPLICATE if same else RecordOutcome.CONFLICT)
            conn.execute(
                "INSERT INTO replay_tokens (token, digest, created_at) VALUES (?, ?, ?)",
                (replay.token, replay.digest, self._clock.now()),
            )
        new, messages = record_events(conn, rows, fed, self._clock.now())
        return Recorded(RecordOutcome.RECORDED, new, len(rows) - new, messages)

    async def ack_recording(
        self, lease: Lease, event: Event, attempts: Sequence[Event], records: Sequence[EventRecord]
    ) -> tuple[bool, int]:
        # One row of the settle bulk: the batch's own events in one INSERT, fed, before its
        # UPDATE, all in the group commit's transaction (a failure fails them together).
        told = tuple(_row(record) for record in records)
        row = settle_row(lease.id, lease.token, event, attempts, None, 0, told)
        answer = await self._db.bulk("settle", row)
        return (bool(answer[0]), int(answer[1])) if told else (bool(answer), 0)

    async def pending(self, limit: int, now: float, hold: float) -> list[EventRecord]:
        return await self._db.write(lambda conn: _lease(conn, limit, now, hold))

    async def resolve(self, resolved: Sequence[Resolved]) -> None:
        rows = [_resolution(outcome) for outcome in resolved]
        matched = [o.seq for o in resolved if o.resolution is Resolution.MATCHED]
        if rows:
            await self._db.write(lambda conn: self._resolve(conn, rows, matched))

    def _resolve(self, conn: sqlite3.Connection, rows: list[Row], matched: list[int]) -> None:
        _resolve(conn, rows)
        if matched:
            feed_resolved(conn, matched, self._clock.now())

    async def for_email(self, email_id: str) -> list[EventRecord]:
        if not email_id:
            return []  # pending and unmatched events have no email
        return await self._db.read(_for_email, email_id)

    async def soft_bounces(self, tenant: str, recipient_key: str, since: float) -> int:
        return await self._db.read(_soft_bounces, tenant, recipient_key, since)

    async def counts(self) -> dict[str, int]:
        return await self._db.read(_counts)

    async def purge_events(self, before: float) -> int:
        return await self._db.write(lambda conn: _purge(conn, before))


def _feeds(event: EventRecord) -> bool:
    """Stored matched, and a state change: it gets a feed item."""
    return bool(event.email_id) and event.type is not EventType.UNKNOWN


def _row(event: EventRecord) -> Row:
    # Postroom's own events name their email already: nothing is left to match.
    state = MATCHED if event.email_id else PENDING
    return (
        *(event.provider, event.dedup_key, event.type, event.at, event.received_at),
        *(event.recipient_key, event.provider_message_id, event.correlation_id),
        *(event.reject_reason, event.bounce, event.description),
        *(event.email_id, event.recipient_index, event.tenant, state, event.received_at),
    )


def _record_of(row: tuple[Any, ...]) -> EventRecord:
    return EventRecord(row[0], row[1], EventType(row[2]), *row[3:])


def _lease(conn: sqlite3.Connection, limit: int, now: float, hold: float) -> list[EventRecord]:
    # Read, then pushed back: the same rows, since the writer holds the write lock throughout.
    rows = conn.execute(f"SELECT {_FIELDS} {_DUE}", (now, limit)).fetchall()
    if rows:
        conn.execute(
            f"UPDATE provider_events SET not_before = ? WHERE seq IN (SELECT seq {_DUE})",
            (now + hold, now, limit),
        )
    return [_record_of(row) for row in rows]


def _resolution(outcome: Resolved) -> Row:
    """(seq, state, email_id, recipient_index, tenant, not_before): only a match names an
    email, only a later resolution sets a time."""
    if outcome.resolution is Resolution.MATCHED:
        named = (outcome.email_id, outcome.recipient_index, outcome.tenant)
        return (outcome.seq, MATCHED, *named, None)
    if outcome.resolution is Resolution.UNMATCHED:
        return (outcome.seq, UNMATCHED, "", -1, "", None)
    return (outcome.seq, PENDING, "", -1, "", outcome.at)


def _resolve(conn: sqlite3.Connection, rows: list[Row]) -> None:
    # Only pending rows change: matched and unmatched are final, so a processor whose hold
    # lapsed and whose events another one resolved changes nothing.
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        conn.execute(_RESOLVE.format(values_sql(len(chunk), 6)), (*flatten(chunk), PENDING))


def _for_email(conn: sqlite3.Connection, email_id: str) -> list[EventRecord]:
    rows = conn.execute(
        f"SELECT {_FIELDS} FROM provider_events WHERE email_id = ? ORDER BY at, seq", (email_id,)
    ).fetchall()
    return [_record_of(row) for row in rows]


def _soft_bounces(conn: sqlite3.Connection, tenant: str, recipient_key: str, since: float) -> int:
    params = (tenant, recipient_key, since, MATCHED, Bounce.SOFT.value)
    return int(conn.execute(_SOFT_BOUNCES, params).fetchone()[0])


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    found = dict(conn.execute("SELECT state, count(*) FROM provider_events GROUP BY state"))
    return {state: int(found.get(state, 0)) for state in (PENDING, MATCHED, UNMATCHED)}


def _purge(conn: sqlite3.Connection, before: float) -> int:
    conn.execute("DELETE FROM replay_tokens WHERE created_at < ?", (before,))
    drop_items_of_events(conn, before)
    return conn.execute("DELETE FROM provider_events WHERE received_at < ?", (before,)).rowcount
