"""The memory engine's email store."""

from postroom.domain.states import State, can_cancel
from postroom.ports.emails import CancelOutcome, EmailFilter, EmailStatus, EmailSummary, Position
from postroom.ports.queue import Event
from postroom.storage.memory.state import MemoryState, Row


class MemoryEmailStore:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def status(self, email_id: str) -> EmailStatus | None:
        row = self._state.rows.get(email_id)
        if row is None:
            return None
        return EmailStatus(
            row.id, row.state, row.created_at, row.send_at, row.attempts, tuple(row.events)
        )

    async def count_since(self, owner: str, since: float) -> int:
        rows = self._state.rows.values()
        return sum(1 for r in rows if r.owner == owner and r.created_at >= since)

    async def cancel(self, email_id: str) -> tuple[CancelOutcome, State | None]:
        row = self._state.rows.get(email_id)
        if row is None:
            return CancelOutcome.NOT_FOUND, None
        if can_cancel(row.state):
            row.state, row.available_at = State.CANCELLED, None
            row.events.append(Event(self._state.clock.now(), State.CANCELLED))
        if row.state is State.CANCELLED:
            return CancelOutcome.CANCELLED, row.state
        return CancelOutcome.TOO_LATE, row.state

    async def find_by_provider_id(self, provider: str, message_id: str) -> str | None:
        return self._state.sent_as.get((provider, message_id)) if message_id else None

    async def content(self, email_id: str) -> tuple[str, bytes] | None:
        row = self._state.rows.get(email_id)
        return (row.owner, row.payload) if row is not None else None

    async def page(
        self, tenant: str, filters: EmailFilter, after: Position | None, limit: int
    ) -> list[EmailSummary]:
        found = [
            r for r in self._state.rows.values() if r.tenant == tenant and _matches(r, filters)
        ]
        found.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        if after is not None:
            found = [r for r in found if (r.created_at, r.id) < after]
        return [_summary(r) for r in found[:limit]]


def _matches(row: Row, filters: EmailFilter) -> bool:
    return (
        (filters.state is None or row.state is filters.state)
        and (filters.tag is None or filters.tag in row.tags)
        and (filters.after is None or row.created_at >= filters.after)
        and (filters.before is None or row.created_at < filters.before)
        and (filters.recipient_key is None or filters.recipient_key in row.recipient_keys)
    )


def _summary(row: Row) -> EmailSummary:
    return EmailSummary(row.id, row.state, row.created_at, row.send_at, row.tags, row.provider)
