"""The memory queue: rows whose available_at is set, leasable once it is due."""

import secrets
from collections.abc import Sequence

from postroom.domain.states import State
from postroom.ports.queue import Event, Lease, NewEmail, PutOutcome, PutResult, QueueStats
from postroom.storage.memory.state import IDEMPOTENCY_WINDOW, MemoryState, Row


class MemoryQueue:
    def __init__(self, state: MemoryState) -> None:
        self._state = state
        self._clock = state.clock

    async def put_many(self, emails: Sequence[NewEmail]) -> list[PutResult]:
        # Nothing can interleave: no await between the puts' checks and their writes.
        return [await self.put(email) for email in emails]

    async def put(self, email: NewEmail) -> PutResult:
        now = self._clock.now()
        key = email.idempotency_key
        if key is not None:
            earlier = self._state.keys.get(key)
            if earlier is not None and earlier[2] > now - IDEMPOTENCY_WINDOW:
                same = earlier[0] == email.fingerprint
                outcome = PutOutcome.DUPLICATE if same else PutOutcome.CONFLICT
                return PutResult(outcome, earlier[1], self._state.rows[earlier[1]].state)
            self._state.keys[key] = (email.fingerprint, email.id, now)
        state = State.SCHEDULED if email.scheduled else State.QUEUED
        row = Row(
            email.id,
            state,
            now,
            email.not_before,
            email.payload,
            email.not_before,
            owner=email.owner,
            tenant=email.tenant,
            tags=email.tags,
            recipient_keys=frozenset(email.recipient_keys),
        )
        row.events.append(Event(now, state))
        self._state.rows[email.id] = row
        return PutResult(PutOutcome.CREATED, email.id, state)

    async def lease(self, limit: int, visibility: float) -> list[Lease]:
        now = self._clock.now()
        ready = [
            r
            for r in self._state.rows.values()
            if r.available_at is not None and r.available_at <= now
        ]
        ready.sort(key=lambda r: (r.available_at, r.id))
        return lease_rows(ready[:limit], now, visibility)

    def _held(self, lease: Lease) -> Row | None:
        row = self._state.rows.get(lease.id)
        return row if row is not None and row.token == lease.token else None

    async def extend(self, lease: Lease, visibility: float) -> bool:
        row = self._held(lease)
        if row is not None:
            row.available_at = self._clock.now() + visibility
        return row is not None

    async def extend_all(self, leases: Sequence[Lease], visibility: float) -> list[bool]:
        return [await self.extend(lease, visibility) for lease in leases]

    async def ack(self, lease: Lease, event: Event, attempts: Sequence[Event] = ()) -> bool:
        return self._settle(lease, (*attempts, event), None, dead=False)

    async def retry(
        self, lease: Lease, at: float, event: Event, attempts: Sequence[Event] = ()
    ) -> bool:
        return self._settle(lease, (*attempts, event), at, dead=False)

    async def dead_letter(self, lease: Lease, event: Event, attempts: Sequence[Event] = ()) -> bool:
        return self._settle(lease, (*attempts, event), None, dead=True)

    def _settle(
        self, lease: Lease, events: tuple[Event, ...], available_at: float | None, dead: bool
    ) -> bool:
        row = self._held(lease)
        if row is None:
            return False
        state = events[-1].state
        row.state, row.available_at, row.token, row.dead = state, available_at, None, dead
        row.provider = events[-1].provider
        row.events.extend(events)
        self._state.record_attempts(row.id, events)
        return True

    async def stats(self) -> QueueStats:
        now = self._clock.now()
        rows = self._state.rows.values()
        times = [(r.available_at, r.state) for r in rows if r.available_at is not None]
        ready = [at for at, _ in times if at <= now]
        later = [state for at, state in times if at > now]
        in_flight = later.count(State.SENDING)
        dead = sum(1 for r in rows if r.dead)
        oldest = now - min(ready) if ready else 0.0
        return QueueStats(len(ready), len(later) - in_flight, in_flight, dead, oldest)


def lease_rows(rows: list[Row], now: float, visibility: float) -> list[Lease]:
    """Lease these rows (shared with claims)."""
    token = secrets.token_hex(8)
    leases = []
    for row in rows:
        row.state, row.token, row.available_at = State.SENDING, token, now + visibility
        row.attempts += 1
        row.events.append(Event(now, State.SENDING))
        leases.append(
            Lease(row.id, token, row.payload, row.attempts, row.created_at, now + visibility)
        )
    return leases
