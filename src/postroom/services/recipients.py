"""Each recipient's story for the status API: its events, and the state they add up to."""

from dataclasses import dataclass

from postroom.domain.errors import CipherError
from postroom.domain.events import Bounce, EventType
from postroom.domain.message import Email
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


@dataclass(frozen=True, slots=True)
class RenderedFrom:
    """The stored template a templated email was rendered from, as intake recorded it."""

    template_id: str
    version: int


@dataclass(frozen=True, slots=True)
class Story:
    """What the status API tells beside the delivery state, from one read of the content."""

    reports: list[RecipientReport]
    # The email's state derived from its recipients'; None: the delivery state stands.
    derived: str | None
    # None for an email not sent with a template, or once retention purged the content.
    template: RenderedFrom | None


class Recipients:
    def __init__(self, events: EventStore, emails: EmailStore, content: Content) -> None:
        self._events = events
        self._emails = emails
        self._content = content

    async def __call__(self, status: EmailStatus) -> tuple[list[RecipientReport], str | None]:
        """Every recipient of the email in to, cc, bcc order, and the email's state derived
        from theirs (None: nothing to derive from; the delivery state stands)."""
        story = await self.story(status)
        return story.reports, story.derived

    async def story(self, status: EmailStatus) -> Story:
        """`__call__`'s reports and derived state, and the template the email was rendered
        from, all from one read of the stored content."""
        email = await self._email(status.id)
        addresses: list[str | None] = [a.email for a in email.recipients()] if email else []
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
        template = _rendered_from(email) if email else None
        return Story(reports, str(derived) if derived is not None else None, template)

    async def _email(self, email_id: str) -> Email | None:
        """The stored email; None once purged, or sealed with a key not configured."""
        stored = await self._emails.content(email_id)
        if stored is None or not stored[1]:
            return None
        try:
            return self._content.open_email(stored[1], email_id)
        except CipherError:
            return None


def _rendered_from(email: Email) -> RenderedFrom | None:
    # Intake sets both for a templated send (services/submit.py with_intake); version 0 is
    # the default of every other email, and of emails stored before templates.
    if not email.template_id or email.template_version < 1:
        return None
    return RenderedFrom(email.template_id, email.template_version)


def _told(record: EventRecord) -> bool:
    return not record.provider and record.type in _TOLD


def _bounce(text: str) -> Bounce | None:
    return Bounce(text) if text else None
