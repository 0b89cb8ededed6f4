"""The provider port: hand one email to one email service."""

from dataclasses import dataclass
from typing import Protocol

from postroom.domain.message import Email


@dataclass(frozen=True, slots=True)
class Outgoing:
    # Postroom's email id; every provider sends it as the correlation id (providers/base.py),
    # so the provider's webhooks can be matched to the email.
    id: str
    email: Email
    # The Message-ID header value, derived from the id so a resend carries the same one.
    message_id: str


@dataclass(frozen=True, slots=True)
class Receipt:
    provider: str
    # The provider's own id for the email, for matching its webhooks later.
    message_id: str
    # The provider's success status ("http_202", "smtp_250"), for the email's history.
    code: str = ""


@dataclass(frozen=True, slots=True)
class Probe:
    """What a read-only check of a provider found. `error` is the outcome class
    ("misconfigured", "down", ...) when not ok; `cause` says why, naming host:port for a
    connection failure, never a credential."""

    ok: bool
    error: str = ""
    cause: str = ""


class Provider(Protocol):
    """What the worker uses of a provider. The adapters implement it through
    providers/base.py's BaseProvider: build (pure) → transmit (I/O) → parse (pure)."""

    name: str

    async def send(self, outgoing: Outgoing) -> Receipt:
        """Return once the provider has accepted the email; raise a ProviderError subclass
        (PermanentError, ThrottledError, MisconfiguredError, ProviderDownError) otherwise.
        Must return or raise within the provider's timeout."""
        ...

    async def probe(self) -> Probe:
        """Check credentials and reachability without sending mail: an authenticated read-only
        call where the provider has one. Never raises for the provider's answer."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
