"""The memory engine's dead letters."""

from postroom.domain.states import State
from postroom.ports.dead import DeadLetter
from postroom.ports.queue import Event
from postroom.storage.memory.state import MemoryState, Row


class MemoryDeadLetters:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def dead(self, limit: int, after: str = "") -> list[DeadLetter]:
        rows = sorted(
            (r for r in self._state.rows.values() if r.dead and r.id > after), key=lambda r: r.id
        )
        return [_dead_letter(r) for r in rows[:limit]]

    async def redrive(self, ids: list[str]) -> list[str]:
        now = self._state.clock.now()
        done = []
        for email_id in ids:
            row = self._state.rows.get(email_id)
            if row is None or not row.dead or not row.payload:
                continue  # unknown, not dead, or its content was purged
            row.dead, row.state, row.available_at, row.attempts = False, State.QUEUED, now, 0
            row.events.append(Event(now, State.QUEUED, "", "redriven"))
            done.append(email_id)
        return done


def _dead_letter(row: Row) -> DeadLetter:
    """The last provider attempt names the provider and the error class."""
    tried = [e for e in row.events if e.outcome]
    last = tried[-1] if tried else row.events[-1]
    return DeadLetter(row.id, row.events[-1].at, row.attempts, last.provider, last.outcome)
