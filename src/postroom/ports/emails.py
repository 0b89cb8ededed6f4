"""The email store: what the API reads and changes about an email outside the queue's flow."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from postroom.domain.states import State
from postroom.ports.queue import Event


@dataclass(frozen=True, slots=True)
class EmailStatus:
    id: str
    state: State
    created_at: float
    send_at: float
    attempts: int
    events: tuple[Event, ...]
    owner: str = ""


@dataclass(frozen=True, slots=True)
class EmailFilter:
    """What a page of a tenant's emails is narrowed to; None: any."""

    state: State | None = None
    tag: str | None = None  # emails carrying this tag (its keyed hash, as NewEmail.tags)
    after: float | None = None  # created at or after this time
    before: float | None = None  # created before this time
    recipient_key: str | None = None  # a recipient's keyed address hash (to, cc or bcc)


@dataclass(frozen=True, slots=True)
class EmailSummary:
    """An email as a list shows it: no subject, no address."""

    id: str
    state: State
    created_at: float
    send_at: float
    tags: tuple[str, ...]  # their keyed hashes (NewEmail.tags): for filtering, never shown
    provider: str  # the provider of its last settled attempt; "" before one


# Where a page ends: (created_at, id) of its last email.
Position = tuple[float, str]


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"
    NOT_FOUND = "not_found"
    TOO_LATE = "too_late"  # a worker has it or it reached a final state


class EmailStore(Protocol):
    async def status(self, email_id: str) -> EmailStatus | None:
        """The email's state and its events in order; never its content. None if unknown."""
        ...

    async def cancel(self, email_id: str) -> tuple[CancelOutcome, State | None]:
        """Cancel an email no worker has taken yet (domain/states.py WAITING); idempotent for
        one already cancelled."""
        ...

    async def count_since(self, owner: str, since: float) -> int:
        """How many emails this API key submitted since `since` (for its daily quota)."""
        ...

    async def find_by_provider_id(self, provider: str, message_id: str) -> str | None:
        """The id of the email a provider accepted under `message_id` (its receipt), in one
        indexed lookup of the attempts recorded by settles; None when no attempt has it."""
        ...

    async def content(self, email_id: str) -> tuple[str, bytes] | None:
        """The email's owner (API key id) and stored payload (sealed when encryption is on;
        b"" once retention purged it); None if unknown. For matching provider events to the
        email's recipients, off the request path."""
        ...

    async def page(
        self, tenant: str, filters: EmailFilter, after: Position | None, limit: int
    ) -> list[EmailSummary]:
        """Up to `limit` of the tenant's emails that match `filters`, newest first by
        (created_at, id), starting below `after` (the position of the previous page's last
        email; None: the newest). Emails stored before tenants and tags were kept have tenant
        "default", no tags and no recipient keys."""
        ...
