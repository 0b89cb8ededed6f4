"""The memory engine's stored content, for key rotation and retention."""

from collections.abc import Sequence
from dataclasses import replace

from postroom.domain.states import State, is_final
from postroom.ports.sealed import Reseal, ResealText
from postroom.storage.memory.state import IDEMPOTENCY_WINDOW, MemoryState, Row


class MemorySealedContent:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def sample_payload(self) -> tuple[str, bytes] | None:
        if not self._state.rows:
            return None
        newest = max(self._state.rows)
        return newest, self._state.rows[newest].payload

    async def payloads(self, email_ids: Sequence[str]) -> dict[str, bytes]:
        rows = self._state.rows
        return {i: rows[i].payload for i in email_ids if i in rows and rows[i].payload}

    async def count_emails(self) -> int:
        return len(self._state.rows)

    async def purge_content(self, before: float) -> int:
        purged = 0
        for row in self._state.rows.values():
            ended = row.available_at is None and is_final(row.state) and row.events[-1].at < before
            if row.payload and ended:
                row.payload, purged = b"", purged + 1
                row.recipient_keys = frozenset()
                row.events = [
                    e if e.state is State.SENT else replace(e, reason="") for e in row.events
                ]
        expired = self._state.clock.now() - IDEMPOTENCY_WINDOW
        self._state.keys = {k: v for k, v in self._state.keys.items() if v[2] > expired}
        return purged

    async def reseal_page(
        self, after: str, limit: int, payload: Reseal, reason: ResealText
    ) -> tuple[int, str | None]:
        ids = sorted(i for i in self._state.rows if i > after)[:limit]
        changed = sum(_reseal(self._state.rows[i], payload, reason) for i in ids)
        return changed, (ids[-1] if ids else None)


def _reseal(row: Row, payload: Reseal, reason: ResealText) -> int:
    context, changed = row.id.encode(), 0
    new = payload(row.payload, context)
    if new is not None:
        row.payload, changed = new, changed + 1
    for index, event in enumerate(row.events):
        text = reason(event.reason, context) if event.reason else None
        if text is not None:
            row.events[index], changed = replace(event, reason=text), changed + 1
    return changed
