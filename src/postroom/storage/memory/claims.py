"""Leasing by id in the memory engine, for a queue kept apart from it."""

from postroom.ports.claims import Claimed
from postroom.storage.memory.queue import lease_rows
from postroom.storage.memory.state import MemoryState


class MemoryClaims:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def claim(self, ids: list[str], visibility: float) -> Claimed:
        now = self._state.clock.now()
        unique = list(dict.fromkeys(ids))
        rows = [row for i in unique if (row := self._state.rows.get(i)) is not None]
        due = [r for r in rows if r.available_at is not None and r.available_at <= now]
        later = {
            r.id: r.available_at
            for r in rows
            if r.available_at is not None and r.available_at > now
        }
        taken = {r.id for r in due}
        gone = [i for i in unique if i not in later and i not in taken]
        return Claimed(lease_rows(due, now, visibility), later, gone)

    async def withdraw(self, email_id: str) -> None:
        self._state.forget(email_id)

    async def waiting(self, after: str, limit: int) -> list[tuple[str, float]]:
        rows = self._state.rows
        ids = sorted(r.id for r in rows.values() if r.available_at is not None)
        page = [i for i in ids if i > after][:limit]
        return [(i, rows[i].available_at or 0.0) for i in page]
