"""The memory engine's counts per time bucket, from each row's events and the provider events."""

from postroom.domain.states import State
from postroom.ports.activity import (
    ACCEPTED,
    SUCCEEDED,
    Activity,
    ProviderAttempts,
    bucketed,
)
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
        calls: dict[str, list[int]] = {}
        for row in self._state.rows.values():
            for event in row.events:
                if event.is_attempt and event.at >= since:
                    counted = calls.setdefault(event.provider, [0, 0])
                    counted[0] += 1
                    counted[1] += event.outcome == SUCCEEDED
        return [ProviderAttempts(p, n, ok) for p, (n, ok) in sorted(calls.items())]
