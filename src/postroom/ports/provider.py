"""The provider port: hand one email to one email service."""

from dataclasses import dataclass
from typing import Protocol

from postroom.domain.message import Email


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: str
    email: Email
    # The Message-ID header value, derived from the id so a resend carries the same one.
    message_id: str


@dataclass(frozen=True, slots=True)
class Receipt:
    provider: str
    # The provider's own id for the email, for matching its webhooks later.
    message_id: str


class Provider(Protocol):
    name: str

    async def send(self, outgoing: Outgoing) -> Receipt:
        """Return once the provider has accepted the email; raise a ProviderError subclass
        (PermanentError, ThrottledError, MisconfiguredError, ProviderDownError) otherwise.
        Must return or raise within the provider's timeout."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
