"""The PostgreSQL queue and store: many API and worker processes on many machines share it.

Every operation is one statement on an autocommit connection from a pool, so one round trip
and one commit; an email's change and its events are written by the same statement. Leasing is
`FOR NO KEY UPDATE SKIP LOCKED`. New emails and settled leases that arrive together share a
statement (see `Coalescer`). The SQL lives in postgres_queries.sql, the schema in
postgres_migrations/, the design in docs/postgres.md.
"""

import asyncio
import contextlib
import secrets
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from postroom.domain.errors import StorageUnavailableError
from postroom.domain.states import State
from postroom.ports.claims import Claimed
from postroom.ports.clock import Clock
from postroom.ports.dead import DeadLetter
from postroom.ports.keys import ApiKey
from postroom.ports.queue import Event, Lease, NewEmail, PutOutcome, PutResult, QueueStats
from postroom.ports.sealed import Reseal, ResealText
from postroom.ports.store import CancelOutcome, EmailStatus
from postroom.queues import postgres_migrate
from postroom.queues.coalesce import Coalescer
from postroom.queues.postgres_connections import (
    PoolOptions,
    connect_failure,
    masked,
    parse_url,
    storage_errors,
)

IDEMPOTENCY_WINDOW = 24 * 3600.0
CHANNEL = "postroom_new"
Row = tuple[Any, ...]
Pool = AsyncConnectionPool[AsyncConnection[Row]]

# The pool retries a lost connection with growing pauses; giving up after this long lets the
# next request start a fresh attempt at once, so service resumes within seconds of the server.
_RECONNECT_TIMEOUT = 10.0
# The array parameters of insert_emails and settle, in the order of a row's values.
_NEW_COLUMNS = ("ids", "states", "created", "not_before", "owners", "payloads")
_SETTLE_COLUMNS = (
    *("ids", "tokens", "states", "available", "dead", "providers", "ats", "reasons"),
    *("outcomes", "codes"),
)
# A settle's provider attempts, one array per column; `a_n` is the position of its lease's row.
_ATTEMPT_COLUMNS = ("a_n", "a_ats", "a_providers", "a_reasons", "a_outcomes", "a_codes")


def _parse_queries(text: str) -> dict[str, bytes]:
    """`-- name: x` blocks; the description comments right after the name are dropped.

    Bytes, because psycopg's typing accepts only literal strings or bytes as queries."""
    queries = {}
    for block in text.split("-- name: ")[1:]:
        name, _, body = block.partition("\n")
        lines = body.strip().splitlines()
        while lines and lines[0].startswith("--"):
            lines.pop(0)
        queries[name.strip()] = "\n".join(lines).strip().encode()
    return queries


_QUERIES = _parse_queries(
    resources.files("postroom.queues").joinpath("postgres_queries.sql").read_text()
)


class PostgresQueue:
    """The whole Backend port over PostgreSQL; any number of processes may share the database."""

    def __init__(self, conninfo: str, clock: Clock, options: PoolOptions | None = None) -> None:
        self._conninfo = conninfo
        self._clock = clock
        self._options = options or PoolOptions()
        self._pool: Pool | None = None
        self._opening = asyncio.Lock()
        self._migrated = not self._options.auto_migrate
        self._closed = False
        parallel = self._options.parallel_writes
        self._new = Coalescer(self._insert_emails, parallel)
        self._settles = Coalescer(self._settle_batch, parallel)
        self._listener: asyncio.Task[None] | None = None
        self._notified = asyncio.Event()

    @classmethod
    def from_url(cls, url: str, clock: Clock) -> "PostgresQueue":
        """`postgresql://user:password@host:port/database?option=value` (or `postgres://`).

        Postroom's options: pool_min, pool_max, pool_timeout (seconds), migrate (on/off). Any
        other option goes to libpq (connect_timeout, sslmode, ...); see docs/postgres.md."""
        conninfo, options = parse_url(url)
        return cls(conninfo, clock, options)

    @property
    def write_batches(self) -> int:
        """Statements that stored new emails or settled leases, for metrics and tests."""
        return self._new.statements + self._settles.statements

    def __repr__(self) -> str:
        return f"PostgresQueue({masked(self._conninfo)!r})"

    # -- connections

    async def _open_pool(self) -> Pool:
        async with self._opening:
            if self._pool is None:
                if self._closed:
                    raise StorageUnavailableError("storage is closed")
                self._pool = AsyncConnectionPool(
                    self._conninfo,
                    min_size=self._options.min_size,
                    max_size=self._options.max_size,
                    timeout=self._options.timeout,
                    reconnect_timeout=_RECONNECT_TIMEOUT,
                    kwargs={"autocommit": True},
                    name="postroom",
                    open=False,
                )
                # Opened inside the running loop: the pool's tasks belong to it.
                await self._pool.open(wait=False)
            return self._pool

    async def pool(self) -> Pool:
        """The open, migrated pool, for other tables of this database (provider health)."""
        return await self._ready()

    async def _ready(self) -> Pool:
        pool = self._pool or await self._open_pool()
        if not self._migrated:
            async with self._opening:
                if not self._migrated:
                    async with pool.connection() as conn:
                        await postgres_migrate.migrate(conn)
                    self._migrated = True
        return pool

    async def _fetch(self, query: str, params: Mapping[str, Any]) -> list[Row]:
        with storage_errors():
            async with (await self._ready()).connection() as conn:
                return await _rows(conn, query, params)

    async def probe(self) -> None:
        """Connect once outside the pool, for start-up: a failure names host:port and why."""
        try:
            conn = await psycopg.AsyncConnection.connect(self._conninfo, connect_timeout=5)
        except psycopg.Error as error:
            raise connect_failure(self._conninfo, error) from None
        await conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StorageUnavailableError("storage is closed")

    async def migrate(self) -> list[str]:
        """Apply pending schema migrations; the versions applied (none when up to date)."""
        with storage_errors():
            async with (self._pool or await self._open_pool()).connection() as conn:
                applied = await postgres_migrate.migrate(conn)
        self._migrated = True
        return applied

    # -- Queue

    async def put(self, email: NewEmail) -> PutResult:
        self._check_open()
        now = self._clock.now()
        state = State.SCHEDULED if email.scheduled else State.QUEUED
        if email.idempotency_key is not None:
            return await self._put_with_key(email, now, state)
        row = (email.id, state.value, now, email.not_before, email.owner, email.payload)
        if not await self._new.submit(row):
            raise ValueError("an email with this id is already stored")
        return PutResult(PutOutcome.CREATED, email.id, state)

    async def _insert_emails(self, rows: list[Row]) -> list[bool]:
        found = await self._fetch("insert_emails", _columns(_NEW_COLUMNS, rows))
        stored = set(found[0][0]) if found else set()
        return [row[0] in stored for row in rows]

    async def _put_with_key(self, email: NewEmail, now: float, state: State) -> PutResult:
        params = {
            "key": email.idempotency_key,
            "fingerprint": email.fingerprint,
            "id": email.id,
            "now": now,
            "expired": now - IDEMPOTENCY_WINDOW,
            "state": state.value,
            "not_before": email.not_before,
            "payload": email.payload,
            "owner": email.owner,
        }
        # Not claimed yet not found: the key row changed hands in between; look once more.
        for _ in range(3):
            if await self._fetch("put_with_key", params):
                return PutResult(PutOutcome.CREATED, email.id, state)
            for fingerprint, email_id, earlier in await self._fetch("find_key", params):
                same = bytes(fingerprint) == email.fingerprint
                outcome = PutOutcome.DUPLICATE if same else PutOutcome.CONFLICT
                return PutResult(outcome, email_id, State(earlier))
        raise StorageUnavailableError("postgresql: idempotency key contended; try again")

    async def lease(self, limit: int, visibility: float) -> list[Lease]:
        now = self._clock.now()
        token = secrets.token_hex(8)
        until = now + visibility
        params = {"now": now, "limit": limit, "token": token, "until": until}
        rows = await self._fetch("lease", params)
        return [
            Lease(id_, token, bytes(payload), n, created, until)
            for id_, payload, n, created in rows
        ]

    async def extend(self, lease: Lease, visibility: float) -> bool:
        until = self._clock.now() + visibility
        params = {"until": until, "id": lease.id, "token": lease.token}
        return bool(await self._fetch("extend", params))

    async def ack(self, lease: Lease, event: Event, attempts: Sequence[Event] = ()) -> bool:
        return await self._settle(lease, event, attempts, available_at=None, dead=False)

    async def retry(
        self, lease: Lease, at: float, event: Event, attempts: Sequence[Event] = ()
    ) -> bool:
        return await self._settle(lease, event, attempts, available_at=at, dead=False)

    async def dead_letter(self, lease: Lease, event: Event, attempts: Sequence[Event] = ()) -> bool:
        return await self._settle(lease, event, attempts, available_at=None, dead=True)

    async def _settle(
        self,
        lease: Lease,
        event: Event,
        attempts: Sequence[Event],
        available_at: float | None,
        dead: bool,
    ) -> bool:
        self._check_open()
        held = (lease.id, lease.token, State(event.state).value, available_at, dead)
        row = (*held, event.provider, event.at, event.reason, event.outcome, event.code)
        return bool(await self._settles.submit((*row, tuple(attempts))))

    async def _settle_batch(self, rows: list[Row]) -> list[bool]:
        params = _columns(_SETTLE_COLUMNS, [row[:-1] for row in rows])
        attempts = [
            (n, a.at, a.provider, a.reason, a.outcome, a.code)
            for n, row in enumerate(rows, 1)
            for a in row[-1]
        ]
        if attempts:
            params.update(_columns(_ATTEMPT_COLUMNS, attempts))
        else:
            params.update({name: [] for name in _ATTEMPT_COLUMNS})
        settled = {n for (n,) in await self._fetch("settle", params)}
        return [position in settled for position in range(1, len(rows) + 1)]

    async def stats(self) -> QueueStats:
        now = self._clock.now()
        ((ready, scheduled, in_flight, dead, oldest),) = await self._fetch("stats", {"now": now})
        age = now - oldest if oldest is not None else 0.0
        return QueueStats(ready, scheduled, in_flight, dead, age)

    # The port's signature: the worker passes its poll interval.
    async def wait_for_new(self, timeout: float) -> None:  # noqa: ASYNC109
        """Return once an email was stored (by any process) since the last call returned, or
        after `timeout` seconds. Listens on a connection of its own; while that connection is
        down this only times out, and polling carries on."""
        if self._listener is None and not self._closed:
            self._listener = asyncio.create_task(self._listen())
        try:
            await asyncio.wait_for(self._notified.wait(), timeout)
        except TimeoutError:
            return  # the event stays set if a notification came at the last moment
        self._notified.clear()

    async def _listen(self) -> None:
        pause = 1.0
        while True:
            with contextlib.suppress(psycopg.Error):
                conn = await AsyncConnection.connect(self._conninfo, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}".encode())
                    pause = 1.0
                    self._notified.set()  # emails may have arrived while nobody listened
                    async for _ in conn.notifies():
                        self._notified.set()
            await asyncio.sleep(pause)
            pause = min(pause * 2, 30.0)

    # -- Store

    async def status(self, email_id: str) -> EmailStatus | None:
        rows = await self._fetch("status", {"id": email_id})
        if not rows:
            return None
        state, created_at, send_at, attempts, owner = rows[0][:5]
        first = Event(created_at, State.SCHEDULED if send_at > created_at else State.QUEUED)
        later = [
            Event(at, State(s), provider, reason, outcome, code)
            for *_, at, s, provider, reason, outcome, code in rows
            if at is not None
        ]
        history = (first, *later)
        return EmailStatus(email_id, State(state), created_at, send_at, attempts, history, owner)

    async def cancel(self, email_id: str) -> tuple[CancelOutcome, State | None]:
        params = {"id": email_id, "now": self._clock.now()}
        if await self._fetch("cancel", params):
            return CancelOutcome.CANCELLED, State.CANCELLED
        # A statement of its own: it sees the state that stopped the cancel, even if a worker
        # leased the email while the cancel was waiting for it.
        rows = await self._fetch("state_of", params)
        if not rows:
            return CancelOutcome.NOT_FOUND, None
        state = State(rows[0][0])
        outcome = CancelOutcome.CANCELLED if state is State.CANCELLED else CancelOutcome.TOO_LATE
        return outcome, state

    async def count_since(self, owner: str, since: float) -> int:
        return int((await self._fetch("count_since", {"owner": owner, "since": since}))[0][0])

    async def ping(self) -> None:
        ((read_only, has_schema),) = await self._fetch("ping", {})
        if not has_schema:
            raise StorageUnavailableError("postgresql: no schema; run `postroom migrate`")
        if read_only == "on":
            raise StorageUnavailableError("postgresql is read-only")

    async def close(self) -> None:
        self._closed = True
        await self._new.drain()
        await self._settles.drain()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._pool is not None:
            await self._pool.close()

    # -- DeadLetters

    async def dead(self, limit: int, after: str = "") -> list[DeadLetter]:
        rows = await self._fetch("dead", {"limit": limit, "after": after})
        return [DeadLetter(*row) for row in rows]

    async def redrive(self, ids: list[str]) -> list[str]:
        if not ids:
            return []
        params = {"ids": list(ids), "now": self._clock.now()}
        found = await self._fetch("redrive", params)
        done = set(found[0][0]) if found else set()
        return [email_id for email_id in dict.fromkeys(ids) if email_id in done]

    # -- SealedContent

    async def sample_payload(self) -> tuple[str, bytes] | None:
        rows = await self._fetch("newest_payload", {})
        return (rows[0][0], bytes(rows[0][1])) if rows else None

    async def count_emails(self) -> int:
        return int((await self._fetch("count_emails", {}))[0][0])

    async def purge_content(self, before: float) -> int:
        expired = self._clock.now() - IDEMPOTENCY_WINDOW
        params = {"before": before, "expired": expired, "lock": postgres_migrate.LOCK_KEY + 1}
        return int((await self._fetch("purge_content", params))[0][0])

    async def reseal_page(
        self, after: str, limit: int, payload: Reseal, reason: ResealText
    ) -> tuple[int, str | None]:
        with storage_errors():
            async with (await self._ready()).connection() as conn, conn.transaction():
                page = await _rows(conn, "reseal_emails", {"after": after, "limit": limit})
                ids = [email_id for email_id, _ in page]
                events = await _rows(conn, "reseal_events", {"ids": ids})
                changes = _resealed(page, events, payload, reason)
                await _rows(conn, "reseal_write", changes)
        return len(changes["ids"]) + len(changes["seqs"]), (ids[-1] if ids else None)

    # -- Claims

    async def claim(self, ids: list[str], visibility: float) -> Claimed:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return Claimed()
        now = self._clock.now()
        token = secrets.token_hex(8)
        params = {"ids": unique, "now": now, "token": token, "until": now + visibility}
        rows = await self._fetch("claim", params)
        leases = [
            Lease(id_, token, bytes(payload), n, created, now + visibility)
            for id_, payload, n, created in rows
        ]
        taken = {lease.id for lease in leases}
        rest = [i for i in unique if i not in taken]
        found: dict[str, float | None] = {}
        if rest:
            found = dict(await self._fetch("claim_rest", {"ids": rest}))
        later = {i: at for i, at in found.items() if at is not None}
        return Claimed(leases, later, [i for i in rest if i not in later])

    async def withdraw(self, email_id: str) -> None:
        await self._fetch("withdraw", {"id": email_id})

    async def waiting(self, after: str, limit: int) -> list[tuple[str, float]]:
        rows = await self._fetch("waiting", {"after": after, "limit": limit})
        return [(row[0], row[1]) for row in rows]

    # -- KeyStore

    async def create_key(self, key_id: str, name: str, token_hash: str, prefix: str) -> ApiKey:
        key = ApiKey(key_id, name, prefix, self._clock.now())
        params = {"id": key_id, "name": name, "token_hash": token_hash, "prefix": prefix}
        await self._fetch("create_key", {**params, "now": key.created_at})
        return key

    async def active_keys(self) -> dict[str, ApiKey]:
        return {row[0]: ApiKey(*row[1:]) for row in await self._fetch("keys", {"active": True})}

    async def list_keys(self) -> list[ApiKey]:
        return [ApiKey(*row[1:]) for row in await self._fetch("keys", {"active": False})]

    async def revoke_key(self, id_or_prefix: str) -> ApiKey | None:
        params = {"key": id_or_prefix, "now": self._clock.now()}
        rows = await self._fetch("revoke_key", params)
        return ApiKey(*rows[0]) if rows else None

    async def touch_keys(self, used: dict[str, float]) -> None:
        if used:
            await self._fetch("touch_keys", {"ids": list(used), "ats": list(used.values())})


async def _rows(conn: AsyncConnection[Row], query: str, params: Mapping[str, Any]) -> list[Row]:
    cursor = await conn.execute(_QUERIES[query], params, binary=True)
    return await cursor.fetchall()


def _resealed(
    page: list[Row], events: list[Row], payload: Reseal, reason: ResealText
) -> dict[str, list[Any]]:
    """The new payloads and event reasons of a page, as reseal_write's arrays."""
    # An empty payload was purged: there is nothing left to seal.
    payloads = [(i, new) for i, old in page if old and (new := payload(bytes(old), i.encode()))]
    reasons = [(seq, text) for seq, i, old in events if (text := reason(old, i.encode()))]
    return {
        "ids": [i for i, _ in payloads],
        "payloads": [new for _, new in payloads],
        "seqs": [seq for seq, _ in reasons],
        "reasons": [text for _, text in reasons],
    }


def _columns(names: tuple[str, ...], rows: list[Row]) -> dict[str, list[Any]]:
    """Rows as one array per column, for UNNEST: one statement whatever the batch size."""
    return {name: list(column) for name, column in zip(names, zip(*rows, strict=True), strict=True)}
