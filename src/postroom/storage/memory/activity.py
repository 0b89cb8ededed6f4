"""The memory engine's counts per time bucket, from each row's events and the provider events,
and each provider's calls with their latency, from the rows' attempt events."""

from postroom.domain.attempts import nearest_rank
from postroom.domain.states import State
from postroom.ports.activity import (
    ACCEPTED,
    HIGH,
    MEDIAN,
    SUCCEEDED,
    Activity,
    ProviderAttempts,
    bucketed,
)
from postroom.ports.queue import Event
from postroom.storage.memory.state import MemoryState

_SETTLED = {State.SENT: State.SENT.value, State.FAILED: State.FAILED.value}
_PROVIDER_KINDS = frozenset({"delivered", "bounced", "complained"})


class MemoryActivityLog:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def activity(self, since: float, buckets: int, bucket_seconds: float) -> Activity:
        found: list[tuple[str, int, int]] = []
        for row in self._state.rows.values():
            if row.created_at >= since:
                found.append((ACCEPTED, int((row.created_at - since) // bucket_seconds), 1))
            for event in row.events:
                kind = _SETTLED.get(event.state)
                if kind and event.at >= since:
                    found.append((kind, int((event.at - since) // bucket_seconds), 1))
        for stored in self._state.events.values():
            record = stored.record
            if stored.state == "matched" and record.type in _PROVIDER_KINDS and record.at >= since:
                found.append((str(record.type), int((record.at - since) // bucket_seconds), 1))
        return bucketed(since, buckets, bucket_seconds, found)

    async def attempts(self, since: float) -> list[ProviderAttempts]:
        calls: dict[str, list[Event]] = {}
        for row in self._state.rows.values():
            for event in row.events:
                if event.is_attempt and event.at >= since:
                    calls.setdefault(event.provider, []).append(event)
        return [_counted(provider, made) for provider, made in sorted(calls.items())]


def _counted(provider: str, calls: list[Event]) -> ProviderAttempts:
    succeeded = sum(call.outcome == SUCCEEDED for call in calls)
    took = sorted(c.duration_ms for c in calls if c.duration_ms is not None)
    p50, p99 = nearest_rank(took, MEDIAN), nearest_rank(took, HIGH)
    return ProviderAttempts(provider, len(calls), succeeded, p50, p99)
