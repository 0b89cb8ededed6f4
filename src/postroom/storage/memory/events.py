"""The memory engine's provider events: append-only, deduplicated, leased for matching. An
event that is matched (recorded so, or resolved) reaches the feed in the same call (feed.py)."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

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
from postroom.storage.memory.feed import drop_items_of_events, feed_event
from postroom.storage.memory.state import MemoryState, StoredEvent

MATCHED = Resolution.MATCHED.value
UNMATCHED = Resolution.UNMATCHED.value


class MemoryEventStore:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def record(self, events: Sequence[EventRecord], replay: Replay | None = None) -> Recorded:
        state = self._state
        if replay is not None:
            earlier = state.replays.get(replay.token)
            if earlier is not None:
                same = earlier[0] == replay.digest
                return Recorded(RecordOutcome.DUPLICATE if same else RecordOutcome.CONFLICT)
            state.replays[replay.token] = (replay.digest, state.clock.now())
        new = messages = 0
        for event in events:
            dedup = (event.provider, event.dedup_key)
            if dedup in state.event_keys:
                continue
            state.event_keys.add(dedup)
            state.last_seq += 1
            stored = replace(event, seq=state.last_seq)
            # Postroom's own events name their email already: nothing is left to match.
            kind = MATCHED if event.email_id else PENDING
            state.events[stored.seq] = StoredEvent(stored, kind, event.received_at)
            if kind == MATCHED:
                messages += feed_event(state, stored)
            new += 1
        return Recorded(RecordOutcome.RECORDED, new, len(events) - new, messages)

    async def pending(self, limit: int, now: float, hold: float) -> list[EventRecord]:
        due = [e for e in self._state.events.values() if e.state == PENDING and e.not_before <= now]
        due.sort(key=lambda e: (e.not_before, e.record.seq))
        for event in due[:limit]:
            event.not_before = now + hold
        return [event.record for event in due[:limit]]

    async def resolve(self, resolved: Sequence[Resolved]) -> None:
        for outcome in resolved:
            event = self._state.events.get(outcome.seq)
            # Matched and unmatched are final: a late second processor changes nothing.
            if event is not None and event.state == PENDING:
                _apply(event, outcome)
                if event.state == MATCHED:
                    feed_event(self._state, event.record)

    async def for_email(self, email_id: str) -> list[EventRecord]:
        if not email_id:
            return []  # pending and unmatched events have no email
        found = [e.record for e in self._state.events.values() if e.record.email_id == email_id]
        return sorted(found, key=lambda r: (r.at, r.seq))

    async def soft_bounces(self, tenant: str, recipient_key: str, since: float) -> int:
        return sum(
            1
            for e in self._state.events.values()
            if e.state == MATCHED
            and (e.record.tenant, e.record.recipient_key) == (tenant, recipient_key)
            and e.record.type == EventType.BOUNCED
            and e.record.bounce == Bounce.SOFT
            and e.record.at >= since
        )

    async def counts(self) -> dict[str, int]:
        found = Counter(e.state for e in self._state.events.values())
        return {kind: found[kind] for kind in (PENDING, MATCHED, UNMATCHED)}

    async def purge_events(self, before: float) -> int:
        state = self._state
        old = [e.record for e in state.events.values() if e.record.received_at < before]
        for record in old:
            del state.events[record.seq]
            state.event_keys.discard((record.provider, record.dedup_key))
        drop_items_of_events(state, {record.seq for record in old})
        state.replays = {t: v for t, v in state.replays.items() if v[1] >= before}
        return len(old)


def _apply(event: StoredEvent, outcome: Resolved) -> None:
    if outcome.resolution is Resolution.MATCHED:
        event.state = MATCHED
        event.record = replace(
            event.record,
            email_id=outcome.email_id,
            recipient_index=outcome.recipient_index,
            tenant=outcome.tenant,
        )
    elif outcome.resolution is Resolution.UNMATCHED:
        event.state = UNMATCHED
    else:
        event.not_before = outcome.at
