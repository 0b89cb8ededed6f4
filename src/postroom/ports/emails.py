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
