"""The PostgreSQL queue: leasing is `FOR NO KEY UPDATE SKIP LOCKED`; new emails and settled
leases that arrive together share a statement (see `Coalescer`), an email's change and its
events (and attempts) written by that one statement. The SQL is in queries.sql."""

import secrets
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection

from postroom.domain.errors import StorageUnavailableError
from postroom.domain.states import State
from postroom.ports.queue import Event, Lease, NewEmail, PutOutcome, PutResult, QueueStats
from postroom.storage.coalesce import Coalescer
from postroom.storage.postgres.connection import PostgresConnection
from postroom.storage.postgres.options import storage_errors
from postroom.storage.postgres.queries import Row, columns, rows
from postroom.storage.sql import json_tags

IDEMPOTENCY_WINDOW = 24 * 3600.0
# The array parameters of insert_emails and settle, in the order of a row's values.
_NEW_COLUMNS = (
    *("ids", "states", "created", "not_before", "owners", "payloads", "tenants", "tags"),
    "keys",
)
_SETTLE_COLUMNS = (
    *("ids", "tokens", "states", "available", "dead", "providers", "ats", "reasons"),
    *("outcomes", "codes", "message_ids", "durations"),
)
# A settle's provider attempts, one array per column; `a_n` is the position of its lease's row.
_ATTEMPT_COLUMNS = (
    *("a_n", "a_ats", "a_providers", "a_reasons", "a_outcomes", "a_codes", "a_durations"),
)


class PostgresQueue:
    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection
        self._clock = connection.clock
        parallel = connection.options.parallel_writes
        self._new = Coalescer(self._insert_emails, parallel)
        self._settles = Coalescer(self._settle_batch, parallel)
        connection.on_close(self._drain)

    @property
    def write_batches(self) -> int:
        """Statements that stored new emails or settled leases, for metrics and tests."""
        return self._new.statements + self._settles.statements

    async def _drain(self) -> None:
        await self._new.drain()
        await self._settles.drain()

    async def put(self, email: NewEmail) -> PutResult:
        self._db.check_open()
        now = self._clock.now()
        state = State.SCHEDULED if email.scheduled else State.QUEUED
        if email.idempotency_key is not None:
            return await self._put_with_key(email, now, state)
        if not await self._new.submit(_new_row(email, state, now)):
            raise ValueError("an email with this id is already stored")
        return PutResult(PutOutcome.CREATED, email.id, state)

    async def put_many(self, emails: Sequence[NewEmail]) -> list[PutResult]:
        """One transaction: the emails without a key in one INSERT, each keyed one claimed in
        turn on the same connection (a key repeated in the batch finds its first use)."""
        self._db.check_open()
        now = self._clock.now()
        states = [State.SCHEDULED if e.scheduled else State.QUEUED for e in emails]
        plain = [
            _new_row(e, state, now)
            for e, state in zip(emails, states, strict=True)
            if e.idempotency_key is None
        ]
        results: list[PutResult] = []
        with storage_errors():
            async with (await self._db.pool()).connection() as conn, conn.transaction():
                if plain:
                    await rows(conn, "insert_emails", columns(_NEW_COLUMNS, plain))
                for email, state in zip(emails, states, strict=True):
                    if email.idempotency_key is None:
                        results.append(PutResult(PutOutcome.CREATED, email.id, state))
                    else:
                        results.append(await _claim(conn, _key_params(email, now, state)))
        return results

    async def _insert_emails(self, rows: list[Row]) -> list[bool]:
        found = await self._db.fetch("insert_emails", columns(_NEW_COLUMNS, rows))
        stored = set(found[0][0]) if found else set()
        return [row[0] in stored for row in rows]

    async def _put_with_key(self, email: NewEmail, now: float, state: State) -> PutResult:
        params = _key_params(email, now, state)
        # Not claimed yet not found: the key row changed hands in between; look once more.
        for _ in range(3):
            if await self._db.fetch("put_with_key", params):
                return PutResult(PutOutcome.CREATED, email.id, state)
            for fingerprint, email_id, earlier in await self._db.fetch("find_key", params):
                same = bytes(fingerprint) == email.fingerprint
                outcome = PutOutcome.DUPLICATE if same else PutOutcome.CONFLICT
                return PutResult(outcome, email_id, State(earlier))
        raise StorageUnavailableError("postgresql: idempotency key contended; try again")

    async def lease(self, limit: int, visibility: float) -> list[Lease]:
        now = self._clock.now()
        token = secrets.token_hex(8)
        until = now + visibility
        params = {"now": now, "limit": limit, "token": token, "until": until}
        rows = await self._db.fetch("lease", params)
        return [
            Lease(id_, token, bytes(payload), n, created, until)
            for id_, payload, n, created in rows
        ]

    async def extend(self, lease: Lease, visibility: float) -> bool:
        until = self._clock.now() + visibility
        params = {"until": until, "id": lease.id, "token": lease.token}
        return bool(await self._db.fetch("extend", params))

    async def extend_all(self, leases: Sequence[Lease], visibility: float) -> list[bool]:
        if not leases:
            return []
        until = self._clock.now() + visibility
        ids, tokens = [lease.id for lease in leases], [lease.token for lease in leases]
        rows = await self._db.fetch("extend_all", {"until": until, "ids": ids, "tokens": tokens})
        held = {(id_, token) for id_, token in rows}
        return [(lease.id, lease.token) in held for lease in leases]

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
        self._db.check_open()
        held = (lease.id, lease.token, State(event.state).value, available_at, dead)
        said = (event.provider, event.at, event.reason, event.outcome, event.code)
        row = (*held, *said, event.message_id, event.duration_ms, tuple(attempts))
        return bool(await self._settles.submit(row))

    async def _settle_batch(self, rows: list[Row]) -> list[bool]:
        params = columns(_SETTLE_COLUMNS, [row[:-1] for row in rows])
        attempts = [
            (n, a.at, a.provider, a.reason, a.outcome, a.code, a.duration_ms)
            for n, row in enumerate(rows, 1)
            for a in row[-1]
        ]
        if attempts:
            params.update(columns(_ATTEMPT_COLUMNS, attempts))
        else:
            params.update({name: [] for name in _ATTEMPT_COLUMNS})
        settled = {n for (n,) in await self._db.fetch("settle", params)}
        return [position in settled for position in range(1, len(rows) + 1)]

    async def stats(self) -> QueueStats:
        now = self._clock.now()
        ((ready, scheduled, in_flight, dead, oldest),) = await self._db.fetch("stats", {"now": now})
        age = now - oldest if oldest is not None else 0.0
        return QueueStats(ready, scheduled, in_flight, dead, age)


def _new_row(email: NewEmail, state: State, now: float) -> Row:
    """A new email as insert_emails takes it, its recipient keys joined by commas (they are
    hex: no comma in them)."""
    return (
        *(email.id, state.value, now, email.not_before, email.owner, email.payload),
        *(email.tenant, json_tags(email.tags), ",".join(dict.fromkeys(email.recipient_keys))),
    )


def _key_params(email: NewEmail, now: float, state: State) -> dict[str, Any]:
    return {
        "tenant": email.tenant,
        "tags": json_tags(email.tags),
        "keys": ",".join(dict.fromkeys(email.recipient_keys)),
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


async def _claim(conn: AsyncConnection[Row], params: dict[str, Any]) -> PutResult:
    """put_with_key inside a batch's transaction: created, or the key's earlier email."""
    if await rows(conn, "put_with_key", params):
        return PutResult(PutOutcome.CREATED, params["id"], State(params["state"]))
    for fingerprint, email_id, earlier in await rows(conn, "find_key", params):
        same = bytes(fingerprint) == params["fingerprint"]
        outcome = PutOutcome.DUPLICATE if same else PutOutcome.CONFLICT
        return PutResult(outcome, email_id, State(earlier))
    raise StorageUnavailableError("postgresql: idempotency key contended; try again")
