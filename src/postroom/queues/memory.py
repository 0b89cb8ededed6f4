"""An in-process queue and store: nothing survives the process. For tests and quick trials only;
held to the same contract suite as the durable backends."""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from postroom.domain.states import FINAL, WAITING, State
from postroom.ports.claims import Claimed
from postroom.ports.clock import Clock
from postroom.ports.dead import DeadLetter
from postroom.ports.keys import ApiKey
from postroom.ports.queue import Event, Lease, NewEmail, PutOutcome, PutResult, QueueStats
from postroom.ports.sealed import Reseal, ResealText
from postroom.ports.store import CancelOutcome, EmailStatus

IDEMPOTENCY_WINDOW = 24 * 3600.0


@dataclass(slots=True)
class _Row:
    id: str
    state: State
    created_at: float
    send_at: float
    payload: bytes
    available_at: float | None
    attempts: int = 0
    token: str | None = None
    dead: bool = False
    owner: str = ""
    events: list[Event] = field(default_factory=list)


class MemoryQueue:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._rows: dict[str, _Row] = {}
        self._keys: dict[str, tuple[bytes, str, float]] = {}
        self._api_keys: dict[str, ApiKey] = {}  # by token hash

    @classmethod
    def from_url(cls, url: str, clock: Clock) -> "MemoryQueue":
        return cls(clock)

    async def put(self, email: NewEmail) -> PutResult:
        now = self._clock.now()
        key = email.idempotency_key
        if key is not None:
            earlier = self._keys.get(key)
            if earlier is not None and earlier[2] > now - IDEMPOTENCY_WINDOW:
                same = earlier[0] == email.fingerprint
                outcome = PutOutcome.DUPLICATE if same else PutOutcome.CONFLICT
                return PutResult(outcome, earlier[1], self._rows[earlier[1]].state)
            self._keys[key] = (email.fingerprint, email.id, now)
        state = State.SCHEDULED if email.scheduled else State.QUEUED
        row = _Row(
            email.id,
            state,
            now,
            email.not_before,
            email.payload,
            email.not_before,
            owner=email.owner,
        )
        row.events.append(Event(now, state))
        self._rows[email.id] = row
        return PutResult(PutOutcome.CREATED, email.id, state)

    async def lease(self, limit: int, visibility: float) -> list[Lease]:
        now = self._clock.now()
        ready = [
            r for r in self._rows.values() if r.available_at is not None and r.available_at <= now
        ]
        ready.sort(key=lambda r: (r.available_at, r.id))
        return self._lease_rows(ready[:limit], now, visibility)

    def _lease_rows(self, rows: list[_Row], now: float, visibility: float) -> list[Lease]:
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

    def _held(self, lease: Lease) -> _Row | None:
        row = self._rows.get(lease.id)
        return row if row is not None and row.token == lease.token else None

    async def extend(self, lease: Lease, visibility: float) -> bool:
        row = self._held(lease)
        if row is not None:
            row.available_at = self._clock.now() + visibility
        return row is not None

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
        row.events.extend(events)
        return True

    async def stats(self) -> QueueStats:
        now = self._clock.now()
        times = [
            (r.available_at, r.state) for r in self._rows.values() if r.available_at is not None
        ]
        ready = [at for at, _ in times if at <= now]
        later = [state for at, state in times if at > now]
        in_flight = later.count(State.SENDING)
        dead = sum(1 for r in self._rows.values() if r.dead)
        oldest = now - min(ready) if ready else 0.0
        return QueueStats(len(ready), len(later) - in_flight, in_flight, dead, oldest)

    async def status(self, email_id: str) -> EmailStatus | None:
        row = self._rows.get(email_id)
        if row is None:
            return None
        return EmailStatus(
            row.id, row.state, row.created_at, row.send_at, row.attempts, tuple(row.events)
        )

    async def count_since(self, owner: str, since: float) -> int:
        return sum(1 for r in self._rows.values() if r.owner == owner and r.created_at >= since)

    async def cancel(self, email_id: str) -> tuple[CancelOutcome, State | None]:
        row = self._rows.get(email_id)
        if row is None:
            return CancelOutcome.NOT_FOUND, None
        if row.state in WAITING:
            row.state, row.available_at = State.CANCELLED, None
            row.events.append(Event(self._clock.now(), State.CANCELLED))
        if row.state is State.CANCELLED:
            return CancelOutcome.CANCELLED, row.state
        return CancelOutcome.TOO_LATE, row.state

    async def dead(self, limit: int, after: str = "") -> list[DeadLetter]:
        rows = sorted(
            (r for r in self._rows.values() if r.dead and r.id > after), key=lambda r: r.id
        )
        return [_dead_letter(r) for r in rows[:limit]]

    async def redrive(self, ids: list[str]) -> list[str]:
        now = self._clock.now()
        done = []
        for email_id in ids:
            row = self._rows.get(email_id)
            if row is None or not row.dead or not row.payload:
                continue  # unknown, not dead, or its content was purged
            row.dead, row.state, row.available_at, row.attempts = False, State.QUEUED, now, 0
            row.events.append(Event(now, State.QUEUED, "", "redriven"))
            done.append(email_id)
        return done

    async def sample_payload(self) -> tuple[str, bytes] | None:
        if not self._rows:
            return None
        newest = max(self._rows)
        return newest, self._rows[newest].payload

    async def count_emails(self) -> int:
        return len(self._rows)

    async def purge_content(self, before: float) -> int:
        purged = 0
        for row in self._rows.values():
            ended = row.available_at is None and row.state in FINAL and row.events[-1].at < before
            if row.payload and ended:
                row.payload, purged = b"", purged + 1
                row.events = [
                    e if e.state is State.SENT else replace(e, reason="") for e in row.events
                ]
        now = self._clock.now()
        self._keys = {k: v for k, v in self._keys.items() if v[2] > now - IDEMPOTENCY_WINDOW}
        return purged

    async def reseal_page(
        self, after: str, limit: int, payload: Reseal, reason: ResealText
    ) -> tuple[int, str | None]:
        ids = sorted(i for i in self._rows if i > after)[:limit]
        changed = 0
        for email_id in ids:
            row, context = self._rows[email_id], email_id.encode()
            new = payload(row.payload, context)
            if new is not None:
                row.payload, changed = new, changed + 1
            for index, event in enumerate(row.events):
                text = reason(event.reason, context) if event.reason else None
                if text is not None:
                    row.events[index], changed = replace(event, reason=text), changed + 1
        return changed, (ids[-1] if ids else None)

    async def create_key(self, key_id: str, name: str, token_hash: str, prefix: str) -> ApiKey:
        key = ApiKey(key_id, name, prefix, self._clock.now())
        self._api_keys[token_hash] = key
        return key

    async def active_keys(self) -> dict[str, ApiKey]:
        return {h: k for h, k in self._api_keys.items() if k.revoked_at is None}

    async def list_keys(self) -> list[ApiKey]:
        return sorted(self._api_keys.values(), key=lambda k: (k.created_at, k.id))

    async def revoke_key(self, id_or_prefix: str) -> ApiKey | None:
        for token_hash, key in self._api_keys.items():
            if id_or_prefix in (key.id, key.prefix):
                revoked = replace(key, revoked_at=key.revoked_at or self._clock.now())
                self._api_keys[token_hash] = revoked
                return revoked
        return None

    async def touch_keys(self, used: dict[str, float]) -> None:
        for token_hash, key in self._api_keys.items():
            if key.id in used:
                self._api_keys[token_hash] = replace(key, last_used_at=used[key.id])

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # -- Claims

    async def claim(self, ids: list[str], visibility: float) -> Claimed:
        now = self._clock.now()
        rows = [row for i in dict.fromkeys(ids) if (row := self._rows.get(i)) is not None]
        due = [r for r in rows if r.available_at is not None and r.available_at <= now]
        later = {
            r.id: r.available_at
            for r in rows
            if r.available_at is not None and r.available_at > now
        }
        gone = [i for i in dict.fromkeys(ids) if i not in later and i not in {r.id for r in due}]
        return Claimed(self._lease_rows(due, now, visibility), later, gone)

    async def withdraw(self, email_id: str) -> None:
        self._rows.pop(email_id, None)
        for key, (_, owner_id, _) in list(self._keys.items()):
            if owner_id == email_id:
                del self._keys[key]

    async def waiting(self, after: str, limit: int) -> list[tuple[str, float]]:
        rows = sorted(r.id for r in self._rows.values() if r.available_at is not None)
        page = [i for i in rows if i > after][:limit]
        return [(i, self._rows[i].available_at or 0.0) for i in page]


def _dead_letter(row: _Row) -> DeadLetter:
    """The last provider attempt names the provider and the error class."""
    tried = [e for e in row.events if e.outcome]
    last = tried[-1] if tried else row.events[-1]
    return DeadLetter(row.id, row.events[-1].at, row.attempts, last.provider, last.outcome)
