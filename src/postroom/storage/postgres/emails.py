"""Where an email's state and history are read and cancelled in PostgreSQL."""

from postroom.domain.states import State
from postroom.ports.emails import CancelOutcome, EmailFilter, EmailStatus, EmailSummary, Position
from postroom.ports.queue import Event
from postroom.storage.postgres.connection import PostgresConnection


class PostgresEmailStore:
    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def status(self, email_id: str) -> EmailStatus | None:
        rows = await self._db.fetch("status", {"id": email_id})
        if not rows:
            return None
        state, created_at, send_at, attempts, owner = rows[0][:5]
        first = Event(created_at, State.SCHEDULED if send_at > created_at else State.QUEUED)
        later = [
            Event(at, State(s), provider, reason, outcome, code)
            for *_, at, s, provider, reason, outcome, code in rows
            if at is not None
        ]
        history = (first, *later)
        return EmailStatus(email_id, State(state), created_at, send_at, attempts, history, owner)

    async def cancel(self, email_id: str) -> tuple[CancelOutcome, State | None]:
        params = {"id": email_id, "now": self._clock.now()}
        if await self._db.fetch("cancel", params):
            return CancelOutcome.CANCELLED, State.CANCELLED
        # A statement of its own: it sees the state that stopped the cancel, even if a worker
        # leased the email while the cancel was waiting for it.
        rows = await self._db.fetch("state_of", params)
        if not rows:
            return CancelOutcome.NOT_FOUND, None
        state = State(rows[0][0])
        outcome = CancelOutcome.CANCELLED if state is State.CANCELLED else CancelOutcome.TOO_LATE
        return outcome, state

    async def count_since(self, owner: str, since: float) -> int:
        rows = await self._db.fetch("count_since", {"owner": owner, "since": since})
        return int(rows[0][0])

    async def find_by_provider_id(self, provider: str, message_id: str) -> str | None:
        if not message_id:
            return None  # failed calls have no id; '' must not match them
        params = {"provider": provider, "message_id": message_id}
        rows = await self._db.fetch("find_by_provider_id", params)
        return str(rows[0][0]) if rows else None

    async def content(self, email_id: str) -> tuple[str, bytes] | None:
        rows = await self._db.fetch("content", {"id": email_id})
        return (rows[0][0], bytes(rows[0][1])) if rows else None

    async def page(
        self, tenant: str, filters: EmailFilter, after: Position | None, limit: int
    ) -> list[EmailSummary]:
        params = {
            "tenant": tenant,
            "key": _recipient_key(filters.recipient_key),
            "state": filters.state.value if filters.state is not None else None,
            "tag": filters.tag,
            "since": filters.after,
            "until": filters.before,
            "at": after[0] if after else None,
            "id": after[1] if after else None,
            "limit": limit,
        }
        query = "page_emails" if filters.recipient_key is None else "page_emails_to"
        return [
            EmailSummary(i, State(state), created, send_at, tuple(tags), provider)
            for i, state, created, send_at, tags, provider in await self._db.fetch(query, params)
        ]


def _recipient_key(key: str | None) -> bytes | None:
    """The key as postroom_email_recipients stores it (migration 0014): the first 128 bits of
    the hex HMAC; a text that is no such hash gives a value no stored key has (empty)."""
    if key is None:
        return None
    try:
        return bytes.fromhex(key[:32])
    except ValueError:
        return b""
