"""The inbound port: what every provider's webhook module offers. Verify a provider's request
over the exact bytes received, then parse it into ProviderEvents (domain/events.py).

One module per provider in providers/webhooks/, the way django-anymail splits webhooks/ from
backends/; none stores anything: services/events.py records what `receive` returns.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from postroom.domain.events import ProviderEvent
from postroom.ports.events import Replay


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    # Header names lower-cased; the body exactly as received (signatures cover these bytes).
    headers: Mapping[str, str]
    body: bytes
    # Unix seconds, from the service's clock (tests set it to a recorded request's time).
    now: float


@dataclass(frozen=True, slots=True)
class Received:
    events: list[ProviderEvent] = field(default_factory=list)
    # A token the provider must never reuse for another body (Mailgun): stored with the events.
    replay: Replay | None = None


class WebhookRefusedError(Exception):
    """The request changes nothing. `status` is the HTTP status to answer (400 malformed,
    401 unauthenticated, 403 forbidden); `code` a short word for logs and metrics ("signature",
    "stale", "malformed", "topic", "auth"). Neither says more: a forger learns nothing."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


class Inbound(Protocol):
    """One configured provider's webhook endpoint."""

    kind: str  # "mailgun", "sendgrid", "ses", "postmark"
    name: str  # the provider's name (its name= option, else the kind)

    async def receive(self, request: WebhookRequest) -> Received:
        """Verify, then parse; raise WebhookRefusedError for anything not proven to come from
        the provider or not understood. Must not store anything."""
        ...

    async def close(self) -> None:
        """Release connections (SNS certificate fetching)."""
        ...
