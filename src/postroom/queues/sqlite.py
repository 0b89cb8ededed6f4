"""The embedded queue and store: one SQLite file in WAL mode, fsynced before every answer."""

import asyncio
import secrets
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from postroom.domain.states import State
from postroom.ports.claims import Claimed
from postroom.ports.clock import Clock
from postroom.ports.dead import DeadLetter
from postroom.ports.keys import ApiKey
from postroom.ports.queue import Event, Lease, NewEmail, PutOutcome, PutResult, QueueStats
from postroom.ports.sealed import Reseal, ResealText
from postroom.ports.store import CancelOutcome, EmailStatus
from postroom.queues.sqlite_commit import (
    Bulk,
    BulkInsert,
    GroupCommitWriter,
    Row,
    flatten,
    storage_error,
    values_sql,
)

T = TypeVar("T")

IDEMPOTENCY_WINDOW = 24 * 3600.0
_WAITING = ("queued", "scheduled", "retrying")
# A new email is one row; its first event (queued or scheduled at created_at) is read from it.
_NEW_EMAIL = BulkInsert(
    "emails",
    ("id", "state", "created_at", "updated_at", "send_at", "available_at", "owner", "payload"),
)
_EVENTS = BulkInsert("events", ("email_id", "at", "state", "provider", "reason"))
# Settling events: provider attempts carry an outcome class and a status code.
_SETTLE_EVENTS = BulkInsert(
    "events", ("email_id", "at", "state", "provider", "reason", "outcome", "code")
)
_EVENT_CHUNK = 4000  # rows of 7 values: under SQLite's 32766 bound variables


class _SettleLeases:
    """Ack, retry and dead-letter for a whole batch in two statements: one UPDATE that only
    touches rows whose lease token still matches, one INSERT of events for those rows (the
    lease's provider attempts first, then the settling event)."""

    single_statement = False
    _COLUMNS = 8  # id, token, state, available_at, dead, provider, at, reason; then attempts

    def run(self, conn: sqlite3.Connection, rows: Sequence[Row]) -> list[Any]:
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
        events = [event for row in rows if row[0] in updated for event in _settle_events(row)]
        # Chunked: a batch with many failovers must stay under SQLite's variable limit.
        for start in range(0, len(events), _EVENT_CHUNK):
            _SETTLE_EVENTS.run(conn, events[start : start + _EVENT_CHUNK])
        return [row[0] in updated for row in rows]


def _settle_events(row: Row) -> list[Row]:
    email_id, outcome, code = row[0], row[9], row[10]
    attempts: Sequence[Event] = row[8]
    rows: list[Row] = [_event_row(email_id, attempt) for attempt in attempts]
    rows.append((email_id, row[6], row[2], row[5], row[7], outcome, code))
    return rows


def _event_row(email_id: str, event: Event) -> Row:
    return (
        email_id,
        event.at,
        event.state,
        event.provider,
        event.reason,
        event.outcome,
        event.code,
    )


class SqliteQueue:
    """Queue and Store over one SQLite file; several processes may share the file."""

    def __init__(
        self, path: str, clock: Clock, *, max_size_mb: int = 0, busy_ms: int = 5000
    ) -> None:
        self.path = path
        self._clock = clock
        self._max_size_mb = max_size_mb
        self._busy_ms = busy_ms
        bulks: dict[str, Bulk] = {"new": _NEW_EMAIL, "settle": _SettleLeases()}
        self._writer = GroupCommitWriter(self._connect_writer, bulks, f"{path}-writelock")
        self._reader = ThreadPoolExecutor(1, "postroom-sqlite-reader")

    @classmethod
    def from_url(cls, url: str, clock: Clock) -> "SqliteQueue":
        """`sqlite:///relative.db`, `sqlite:////absolute.db`; `?max_size_mb=N` caps the file."""
        parts = urlsplit(url)
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if not path or path == ":memory:" or parts.netloc:
            raise ValueError("expected sqlite:///path/to/file.db")
        query = parse_qs(parts.query)
        max_size = int(query.get("max_size_mb", ["0"])[0])
        busy = int(query.get("busy_timeout_ms", ["5000"])[0])
        return cls(path, clock, max_size_mb=max_size, busy_ms=busy)

    @property
    def writer(self) -> GroupCommitWriter:
        return self._writer

    def __repr__(self) -> str:
        return f"SqliteQueue({self.path!r})"

    # -- connections

    def _open(self) -> sqlite3.Connection:
        # The directory is not created: a wrong path should fail loudly, not make a new store.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=self._busy_ms / 1000)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at every commit, so a committed email survives power loss.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_ms)}")
        return conn

    def _connect_writer(self) -> sqlite3.Connection:
        conn = self._open()
        _migrate(conn)
        if self._max_size_mb:
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            pages = self._max_size_mb * 1024 * 1024 // page_size
            conn.execute(f"PRAGMA max_page_count={int(pages)}")
        return conn

    async def _read(self, query: Any, *args: Any) -> Any:
        if self._local_reader is None:
            await self.ping()  # the writer creates the file and schema on first use
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._reader, self._read_sync, query, args)
        except sqlite3.Error as error:
            raise storage_error(error) from None

    _local_reader: sqlite3.Connection | None = None

    def _read_sync(self, query: Any, args: tuple[Any, ...]) -> Any:
        if self._local_reader is None:
            self._local_reader = self._open()
            self._local_reader.execute("PRAGMA query_only=ON")
        return query(self._local_reader, *args)

    # -- Queue

    async def put(self, email: NewEmail) -> PutResult:
        if email.idempotency_key is not None:
            return await self._writer.run(lambda conn: self._put_once(conn, email))
        await self._writer.bulk("new", self._row(email, self._clock.now()))
        return PutResult(PutOutcome.CREATED, email.id, _initial_state(email))

    @staticmethod
    def _row(email: NewEmail, now: float) -> tuple[Any, ...]:
        state = _initial_state(email)
        return (
            email.id,
            state,
            now,
            now,
            email.not_before,
            email.not_before,
            email.owner,
            email.payload,
        )

    def _put_once(self, conn: sqlite3.Connection, email: NewEmail) -> PutResult:
        now = self._clock.now()
        earlier = self._earlier(conn, email, now)
        if earlier is not None:
            return earlier
        conn.execute(_NEW_EMAIL.sql(1), self._row(email, now))
        return PutResult(PutOutcome.CREATED, email.id, _initial_state(email))

    def _earlier(self, conn: sqlite3.Connection, email: NewEmail, now: float) -> PutResult | None:
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

    async def lease(self, limit: int, visibility: float) -> list[Lease]:
        return await self._writer.run(lambda conn: self._lease(conn, limit, visibility))

    def _lease(self, conn: sqlite3.Connection, limit: int, visibility: float) -> list[Lease]:
        picked = "SELECT id FROM emails WHERE available_at <= ? ORDER BY available_at LIMIT ?"
        return self._lease_where(conn, picked, [self._clock.now(), limit], visibility)

    def _lease_where(
        self, conn: sqlite3.Connection, picked: str, params: list[Any], visibility: float
    ) -> list[Lease]:
        """Lease the due rows among those `picked` selects."""
        now = self._clock.now()
        token = secrets.token_hex(8)
        rows = conn.execute(
            "UPDATE emails SET state = 'sending', lease_token = ?, available_at = ?,"
            f" attempts = attempts + 1, updated_at = ? WHERE id IN ({picked})"
            " AND available_at <= ? RETURNING id, payload, attempts, created_at",
            (token, now + visibility, now, *params, now),
        ).fetchall()
        rows.sort(key=lambda row: row[0])
        if rows:
            _EVENTS.run(conn, [(row[0], now, "sending", "", "") for row in rows])
        return [Lease(row[0], token, row[1], row[2], row[3], now + visibility) for row in rows]

    async def extend(self, lease: Lease, visibility: float) -> bool:
        def extend(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE emails SET available_at = ? WHERE id = ? AND lease_token = ?",
                (self._clock.now() + visibility, lease.id, lease.token),
            )
            return cursor.rowcount == 1

        return await self._writer.run(extend)

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
        row = (
            *(lease.id, lease.token, event.state, available_at, dead),
            *(event.provider, event.at, event.reason),
            tuple(attempts),
            event.outcome,
            event.code,
        )
        return bool(await self._writer.bulk("settle", row))

    async def stats(self) -> QueueStats:
        return await self._read(_stats, self._clock.now())  # type: ignore[no-any-return]

    # -- Store

    async def status(self, email_id: str) -> EmailStatus | None:
        return await self._read(_status, email_id)  # type: ignore[no-any-return]

    async def count_since(self, owner: str, since: float) -> int:
        return int(await self._read(_count_since, owner, since))

    async def cancel(self, email_id: str) -> tuple[CancelOutcome, State | None]:
        return await self._writer.run(lambda conn: self._cancel(conn, email_id))

    def _cancel(
        self, conn: sqlite3.Connection, email_id: str
    ) -> tuple[CancelOutcome, State | None]:
        now = self._clock.now()
        cursor = conn.execute(
            "UPDATE emails SET state = 'cancelled', available_at = NULL, updated_at = ?"
            " WHERE id = ? AND state IN (?, ?, ?)",
            (now, email_id, *_WAITING),
        )
        if cursor.rowcount == 1:
            _event(conn, email_id, Event(now, State.CANCELLED))
            return CancelOutcome.CANCELLED, State.CANCELLED
        row = conn.execute("SELECT state FROM emails WHERE id = ?", (email_id,)).fetchone()
        if row is None:
            return CancelOutcome.NOT_FOUND, None
        state = State(row[0])
        if state is State.CANCELLED:
            return CancelOutcome.CANCELLED, state
        return CancelOutcome.TOO_LATE, state

    # -- DeadLetters

    async def dead(self, limit: int, after: str = "") -> list[DeadLetter]:
        rows = await self._read(_dead, limit, after)
        return [DeadLetter(*row) for row in rows]

    async def redrive(self, ids: list[str]) -> list[str]:
        return await self._writer.run(lambda conn: self._redrive(conn, ids))

    def _redrive(self, conn: sqlite3.Connection, ids: list[str]) -> list[str]:
        if not ids:
            return []
        now = self._clock.now()
        done = [
            row[0]
            for row in conn.execute(
                "UPDATE emails SET dead = 0, state = 'queued', available_at = ?, attempts = 0,"
                " lease_token = NULL, updated_at = ?"
                f" WHERE dead = 1 AND payload IS NOT NULL AND id IN ({', '.join('?' * len(ids))})"
                " RETURNING id",
                (now, now, *ids),
            )
        ]
        if done:
            _EVENTS.run(conn, [(email_id, now, "queued", "", "redriven") for email_id in done])
        return done

    # -- SealedContent

    async def sample_payload(self) -> tuple[str, bytes] | None:
        row = await self._read(_newest_payload)
        return (row[0], row[1]) if row else None

    async def count_emails(self) -> int:
        return int(await self._read(_count_emails))

    async def purge_content(self, before: float) -> int:
        now = self._clock.now()

        def purge(conn: sqlite3.Connection) -> int:
            ids = [
                row[0]
                for row in conn.execute(
                    "UPDATE emails SET payload = NULL"
                    " WHERE payload IS NOT NULL AND available_at IS NULL AND updated_at < ?"
                    " AND state IN ('sent', 'delivered', 'bounced', 'complained', 'cancelled',"
                    " 'suppressed', 'failed') RETURNING id",
                    (before,),
                )
            ]
            for chunk in range(0, len(ids), 500):
                part = ids[chunk : chunk + 500]
                conn.execute(
                    f"UPDATE events SET reason = '' WHERE state != 'sent' AND email_id IN"
                    f" ({', '.join('?' * len(part))})",
                    part,
                )
            conn.execute(
                "DELETE FROM idempotency WHERE created_at < ?", (now - IDEMPOTENCY_WINDOW,)
            )
            return len(ids)

        return await self._writer.run(purge)

    async def reseal_page(
        self, after: str, limit: int, payload: Reseal, reason: ResealText
    ) -> tuple[int, str | None]:
        return await self._writer.run(lambda conn: _reseal(conn, after, limit, payload, reason))

    # -- KeyStore

    async def create_key(self, key_id: str, name: str, token_hash: str, prefix: str) -> ApiKey:
        key = ApiKey(key_id, name, prefix, self._clock.now())
        await self._writer.run(
            lambda conn: conn.execute(
                "INSERT INTO api_keys (id, name, token_hash, prefix, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (key_id, name, token_hash, prefix, key.created_at),
            )
        )
        return key

    async def active_keys(self) -> dict[str, ApiKey]:
        rows = await self._read(_keys, "WHERE revoked_at IS NULL")
        return {row[0]: ApiKey(*row[1:]) for row in rows}

    async def list_keys(self) -> list[ApiKey]:
        return [ApiKey(*row[1:]) for row in await self._read(_keys, "")]

    async def revoke_key(self, id_or_prefix: str) -> ApiKey | None:
        now = self._clock.now()

        def revoke(conn: sqlite3.Connection) -> ApiKey | None:
            row = conn.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?)"
                " WHERE id = ? OR prefix = ?"
                " RETURNING id, name, prefix, created_at, last_used_at, revoked_at",
                (now, id_or_prefix, id_or_prefix),
            ).fetchone()
            return ApiKey(*row) if row else None

        return await self._writer.run(revoke)

    async def touch_keys(self, used: dict[str, float]) -> None:
        if used:
            await self._writer.run(
                lambda conn: conn.executemany(
                    "UPDATE api_keys SET last_used_at = ? WHERE id = ?",
                    [(at, key_id) for key_id, at in used.items()],
                )
            )

    # -- Claims

    async def claim(self, ids: list[str], visibility: float) -> Claimed:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return Claimed()
        return await self._writer.run(lambda conn: self._claim(conn, unique, visibility))

    def _claim(self, conn: sqlite3.Connection, ids: list[str], visibility: float) -> Claimed:
        marks = ",".join("?" * len(ids))
        picked = f"SELECT id FROM emails WHERE id IN ({marks})"
        leases = self._lease_where(conn, picked, ids, visibility)
        taken = {lease.id for lease in leases}
        rest = [i for i in ids if i not in taken]
        later: dict[str, float] = {}
        if rest:
            later = dict(
                conn.execute(
                    f"SELECT id, available_at FROM emails WHERE id IN ({','.join('?' * len(rest))})"
                    " AND available_at IS NOT NULL",
                    rest,
                ).fetchall()
            )
        return Claimed(leases, later, [i for i in rest if i not in later])

    async def withdraw(self, email_id: str) -> None:
        def withdraw(conn: sqlite3.Connection) -> None:
            for table, column in (("events", "email_id"), ("idempotency", "email_id")):
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (email_id,))
            conn.execute("DELETE FROM emails WHERE id = ?", (email_id,))

        await self._writer.run(withdraw)

    async def waiting(self, after: str, limit: int) -> list[tuple[str, float]]:
        def waiting(conn: sqlite3.Connection) -> list[tuple[str, float]]:
            query = (
                "SELECT id, available_at FROM emails WHERE available_at IS NOT NULL AND id > ?"
                " ORDER BY id LIMIT ?"
            )
            return [(row[0], row[1]) for row in conn.execute(query, (after, limit))]

        return await self._read(waiting)  # type: ignore[no-any-return]

    async def ping(self) -> None:
        # Through the writer: proves the file can be opened, the schema exists and a
        # transaction commits, which is what intake needs.
        await self._writer.run(lambda conn: conn.execute("SELECT 1 FROM emails LIMIT 1"))

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._writer.close)
        self._reader.submit(self._close_reader).result()
        self._reader.shutdown()

    def _close_reader(self) -> None:
        if self._local_reader is not None:
            self._local_reader.close()
            self._local_reader = None


SCHEMA_VERSION = 4


def _migrate(conn: sqlite3.Connection) -> None:
    """A new file gets the whole schema, an older one the steps it lacks: in one transaction
    that re-reads the version under the write lock, so processes starting together agree."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for statement in _migration_statements(version):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _migration_statements(version: int) -> list[str]:
    if version >= SCHEMA_VERSION:
        return []
    files = resources.files("postroom.queues")
    if version == 0:
        script = files.joinpath("sqlite_schema.sql").read_text()
    else:
        steps = files.joinpath("sqlite_migrations.sql").read_text().split("-- name: ")[1:]
        script = "".join(
            step.partition("\n")[2] for step in steps if int(step.split()[0]) > version
        )
    lines = (line for line in script.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


def _initial_state(email: NewEmail) -> State:
    return State.SCHEDULED if email.scheduled else State.QUEUED


def _event(conn: sqlite3.Connection, email_id: str, event: Event) -> None:
    _SETTLE_EVENTS.run(conn, [_event_row(email_id, event)])


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


def _newest_payload(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(
        "SELECT id, payload FROM emails WHERE payload IS NOT NULL ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return row


def _count_since(conn: sqlite3.Connection, owner: str, since: float) -> int:
    query = "SELECT count(*) FROM emails WHERE owner = ? AND created_at >= ?"
    return int(conn.execute(query, (owner, since)).fetchone()[0])


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
        for rowid, text in conn.execute(
            "SELECT rowid, reason FROM events WHERE email_id = ? AND reason != ''", (email_id,)
        ).fetchall():
            new_text = reason(text, context)
            if new_text is not None:
                conn.execute("UPDATE events SET reason = ? WHERE rowid = ?", (new_text, rowid))
                changed += 1
    return changed, (rows[-1][0] if rows else None)


def _keys(conn: sqlite3.Connection, where: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT token_hash, id, name, prefix, created_at, last_used_at, revoked_at"
        f" FROM api_keys {where} ORDER BY created_at, id"
    ).fetchall()


def _dead(conn: sqlite3.Connection, limit: int, after: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        # The last provider attempt names the provider and the error class.
        "SELECT id, updated_at, attempts,"
        " coalesce(a.provider, emails.provider), coalesce(a.outcome, '')"
        " FROM emails LEFT JOIN events a ON a.rowid = ("
        "  SELECT max(rowid) FROM events WHERE email_id = emails.id AND outcome != '')"
        " WHERE dead = 1 AND id > ? ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()


def _stats(conn: sqlite3.Connection, now: float) -> QueueStats:
    def one(sql: str, *args: Any) -> Any:
        return conn.execute(sql, args).fetchone()[0]

    ready = one("SELECT count(*) FROM emails WHERE available_at <= ?", now)
    waiting = one("SELECT count(*) FROM emails WHERE available_at > ? AND state != 'sending'", now)
    in_flight = one("SELECT count(*) FROM emails WHERE available_at > ? AND state = 'sending'", now)
    dead = one("SELECT count(*) FROM emails WHERE dead = 1")
    oldest = one("SELECT min(available_at) FROM emails WHERE available_at <= ?", now)
    return QueueStats(ready, waiting, in_flight, dead, now - oldest if oldest is not None else 0.0)
