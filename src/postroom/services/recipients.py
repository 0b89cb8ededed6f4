"""Each recipient's story for the status API: its events, and the state they add up to."""

from dataclasses import dataclass

from postroom.domain.errors import CipherError
from postroom.domain.events import Bounce, EventType
from postroom.domain.recipients import Happened, RecipientState, email_state, fold
from postroom.domain.states import State
from postroom.ports.emails import EmailStatus, EmailStore
from postroom.ports.events import EventRecord, EventStore
from postroom.services.content import Content

# The email's own history that counts for every recipient it was sent to.
_SHARED = {State.SENT: EventType.SENT, State.CANCELLED: EventType.CANCELLED}
# Postroom's per-recipient copies of that history, recorded for the feed and the webhooks
# (services/deliver.py): the email's own history shows them already.
_TOLD = frozenset({EventType.SENT, EventType.FAILED, EventType.CANCELLED})


@dataclass(frozen=True, slots=True)
class RecipientReport:
    # None once retention purged the content (the events stay).
    address: str | None
    state: RecipientState
    events: list[EventRecord]


class Recipients:
    def __init__(self, events: EventStore, emails: EmailStore, content: Content) -> None:
        self._events = events
        self._emails = emails
        self._content = content

    async def __call__(self, status: EmailStatus) -> tuple[list[RecipientReport], str | None]:
        """Every recipient of the email in to, cc, bcc order, and the email's state derived
        from theirs (None: nothing to derive from; the delivery state stands)."""
        addresses = await self._addresses(status.id)
        records = [r for r in await self._events.for_email(status.id) if not _told(r)]
        shared = [Happened(_SHARED[e.state], e.at) for e in status.events if e.state in _SHARED]
        count = max(len(addresses), max((r.recipient_index + 1 for r in records), default=0))
        reports = []
        for index in range(count):
            own = [r for r in records if r.recipient_index == index]
            happened = shared + [Happened(r.type, r.at, _bounce(r.bounce)) for r in own]
            address = addresses[index] if index < len(addresses) else None
            reports.append(RecipientReport(address, fold(happened), own))
        # Only once delivery is over: until then the delivery state says more.
        derived = (
            email_state(r.state for r in reports)
            if records and status.state is State.SENT
            else None
        )
        return reports, (str(derived) if derived is not None else None)

    async def _addresses(self, email_id: str) -> list[str | None]:
        stored = await self._emails.content(email_id)
        if stored is None or not stored[1]:
            return []
        try:
            email = self._content.open_email(stored[1], email_id)
        except CipherError:
            return []
        return [a.email for a in email.recipients()]


def _told(record: EventRecord) -> bool:
    return not record.provider and record.type in _TOLD


def _bounce(text: str) -> Bounce | None:
    return Bounce(text) if text else None
