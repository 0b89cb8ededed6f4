"""The SQLite queue: the rows of `emails` whose available_at is set, leasable once it is due."""

import secrets
import sqlite3
from collections.abc import Sequence
from typing import Any

from postroom.domain.states import State
from postroom.ports.clock import Clock
from postroom.ports.queue import Event, Lease, NewEmail, PutOutcome, PutResult, QueueStats
from postroom.storage.sqlite.bulks import (
    EVENTS,
    initial_state,
    insert_emails,
    settle_row,
)
from postroom.storage.sqlite.connection import SqliteConnection

IDEMPOTENCY_WINDOW = 24 * 3600.0


class SqliteQueue:
    """The Queue port over one SQLite file; new emails and settles are bulk writes."""

    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def put(self, email: NewEmail) -> PutResult:
        if email.idempotency_key is not None:
            return await self._db.write(lambda conn: self._put_once(conn, email), intake=True)
        await self._db.bulk("new", (self._clock.now(), email))
        return PutResult(PutOutcome.CREATED, email.id, initial_state(email.scheduled))

    async def put_many(self, emails: Sequence[NewEmail]) -> list[PutResult]:
        """One operation of the group commit: the batch is one transaction, one fsync."""
        batch = list(emails)
        return await self._db.write(lambda conn: self._put_all(conn, batch), intake=True)

    def _put_all(self, conn: sqlite3.Connection, emails: list[NewEmail]) -> list[PutResult]:
        if all(email.idempotency_key is None for email in emails):  # a batch without a key
            now = self._clock.now()
            insert_emails(conn, [(now, email) for email in emails])
            created, queued, scheduled = PutOutcome.CREATED, State.QUEUED, State.SCHEDULED
            return [
                PutResult(created, email.id, scheduled if email.scheduled else queued)
                for email in emails
            ]
        results: list[PutResult | None] = [None] * len(emails)
        plain = [i for i, email in enumerate(emails) if email.idempotency_key is None]
        for i, email in enumerate(emails):
            if email.idempotency_key is not None:
                results[i] = self._put_once(conn, email)
        now = self._clock.now()
        insert_emails(conn, [(now, emails[i]) for i in plain])
        created = PutOutcome.CREATED
        for i in plain:
            email = emails[i]
            results[i] = PutResult(created, email.id, initial_state(email.scheduled))
        return [r for r in results if r is not None]

    def _put_once(self, conn: sqlite3.Connection, email: NewEmail) -> PutResult:
        now = self._clock.now()
        earlier = _earlier(conn, email, now)
        if earlier is not None:
            return earlier
        insert_emails(conn, [(now, email)])
        return PutResult(PutOutcome.CREATED, email.id, initial_state(email.scheduled))

    async def lease(self, limit: int, visibility: float) -> list[Lease]:
        picked = "SELECT id FROM emails WHERE available_at <= ? ORDER BY available_at LIMIT ?"
        return await self._db.write(
            lambda conn: lease_where(
                conn, self._clock, picked, [self._clock.now(), limit], visibility
            )
        )

    async def extend(self, lease: Lease, visibility: float) -> bool:
        def extend(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE emails SET available_at = ? WHERE id = ? AND lease_token = ?",
                (self._clock.now() + visibility, lease.id, lease.token),
            )
            return cursor.rowcount == 1

        return await self._db.write(extend)

    async def extend_all(self, leases: Sequence[Lease], visibility: float) -> list[bool]:
        def extend(conn: sqlite3.Connection) -> list[bool]:
            until = self._clock.now() + visibility
            sql = "UPDATE emails SET available_at = ? WHERE id = ? AND lease_token = ?"
            return [
                conn.execute(sql, (until, lease.id, lease.token)).rowcount == 1 for lease in leases
            ]

        return await self._db.write(extend) if leases else []

    async def ack(self, lease: Lease, event: Event, attempts: Sequence[Event] = ()) -> bool:
        return await self._settle(lease, event, attempts, available_at=None, dead=0)

    async def retry(
        self, lease: Lease, at: float, event: Event, attempts: Sequence[Event] = ()
    ) -> bool:
        return await self._settle(lease, event, attempts, available_at=at, dead=0)

    async def dead_letter(self, lease: Lease, event: Event, attempts: Sequence[Event] = ()) -> bool:
        return await self._settle(lease, event, attempts, available_at=None, dead=1)

    async def _settle(
        self,
        lease: Lease,
        event: Event,
        attempts: Sequence[Event],
        available_at: float | None,
        dead: int,
    ) -> bool:
        row = settle_row(lease.id, lease.token, event, attempts, available_at, dead)
        return bool(await self._db.bulk("settle", row))

    async def stats(self) -> QueueStats:
        return await self._db.read(_stats, self._clock.now())


def lease_where(
    conn: sqlite3.Connection, clock: Clock, picked: str, params: list[Any], visibility: float
) -> list[Lease]:
    """Lease the due rows among those `picked` selects (shared with claims)."""
    now = clock.now()
    token = secrets.token_hex(8)
    rows = conn.execute(
        "UPDATE emails SET state = ?, lease_token = ?, available_at = ?,"
        f" attempts = attempts + 1, updated_at = ? WHERE id IN ({picked})"
        " AND available_at <= ? RETURNING id, payload, attempts, created_at",
        (State.SENDING.value, token, now + visibility, now, *params, now),
    ).fetchall()
    rows.sort(key=lambda row: row[0])
    if rows:
        EVENTS.run(conn, [(row[0], now, State.SENDING.value, "", "") for row in rows])
    return [Lease(row[0], token, row[1], row[2], row[3], now + visibility) for row in rows]


def _earlier(conn: sqlite3.Connection, email: NewEmail, now: float) -> PutResult | None:
    """The email an idempotency key already names, or None after claiming the key."""
    row = conn.execute(
        "SELECT i.fingerprint, i.email_id, e.state FROM idempotency i"
        " JOIN emails e ON e.id = i.email_id WHERE i.key = ? AND i.created_at > ?",
        (email.idempotency_key, now - IDEMPOTENCY_WINDOW),
    ).fetchone()
    if row is not None:
        same = row[0] == email.fingerprint
        outcome = PutOutcome.DUPLICATE if same else PutOutcome.CONFLICT
        return PutResult(outcome, row[1], State(row[2]))
    conn.execute(
        "INSERT OR REPLACE INTO idempotency (key, fingerprint, email_id, created_at)"
        " VALUES (?, ?, ?, ?)",
        (email.idempotency_key, email.fingerprint, email.id, now),
    )
    return None


def _stats(conn: sqlite3.Connection, now: float) -> QueueStats:
    def one(sql: str, *args: Any) -> Any:
        return conn.execute(sql, args).fetchone()[0]

    sending = State.SENDING.value
    ready = one("SELECT count(*) FROM emails WHERE available_at <= ?", now)
    waiting = one("SELECT count(*) FROM emails WHERE available_at > ? AND state != ?", now, sending)
    in_flight = one(
        "SELECT count(*) FROM emails WHERE available_at > ? AND state = ?", now, sending
    )
    dead = one("SELECT count(*) FROM emails WHERE dead = 1")
    oldest = one("SELECT min(available_at) FROM emails WHERE available_at <= ?", now)
    return QueueStats(ready, waiting, in_flight, dead, now - oldest if oldest is not None else 0.0)
