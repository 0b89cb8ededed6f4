"""The shape every provider has, and what they all share.

A provider is three steps over `BaseProvider`:

- `build(outgoing, now)`, pure: the email as this provider's request (a JSON body, a form, a
  raw MIME message, an SMTP envelope), or UnsupportedError for what the provider cannot carry,
  before anything is sent. `now` is the Date header's time for the providers that write one.
- `transmit(request)`, I/O only: hand the request over and return the provider's answer, any
  answer; raise ProviderDownError only when there was none (timeout, connection).
- `parse(answer)`, pure: a Receipt, or the ProviderError the answer means (docs/design.md).

`send` chains them; `probe` is a read-only check that never raises for the provider's answer.
Also here: the correlation id every request carries, and the limits every provider shares.
"""

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Generic, TypeVar

from postroom.domain.errors import (
    MisconfiguredError,
    PermanentError,
    ProviderError,
    ThrottledError,
    UnsupportedError,
)
from postroom.domain.rules import CORRELATION_HEADER, CORRELATION_KEY
from postroom.ports.provider import Outgoing, Probe, Receipt

RequestT = TypeVar("RequestT")
AnswerT = TypeVar("AnswerT")

# -- limits every provider shares

DEFAULT_TIMEOUT = 15.0
# The longest a provider call may take to connect, within its timeout.
CONNECT_TIMEOUT = 5.0
# What a provider's answer may contribute to an email's events (never to a log).
DETAIL_CHARS = 500
# What a probe's cause may hold: one line of `postroom check`.
PROBE_CAUSE_CHARS = 200
# The end of a sent attempt's code when the provider's message id is unknown
# ("http_200_id_unknown"): a 2xx whose body was empty, unreadable or cut off still means sent.
ID_UNKNOWN = "id_unknown"

# -- the correlation id: Postroom's email id in each provider's custom data, so the provider's
# webhooks can be matched to the email (docs/providers/README.md, "Correlation id"); the names
# live in the domain, whose validation refuses them in a request.


def detail(text: str | bytes) -> str:
    """A provider's words cut to DETAIL_CHARS, for an error's detail."""
    if isinstance(text, bytes):
        text = text[:DETAIL_CHARS].decode("utf-8", "replace")
    return text[:DETAIL_CHARS]


def metadata_with_id(outgoing: Outgoing) -> tuple[tuple[str, str], ...]:
    """The email's metadata followed by the correlation id. A metadata key that is the
    correlation key in any letter case is refused, not overwritten or dropped: both values
    would be lost to one of them (and Postmark refuses keys differing only in case)."""
    metadata = outgoing.email.metadata
    if not metadata:
        return ((CORRELATION_KEY, outgoing.id),)
    if any(key.casefold() == CORRELATION_KEY for key, _ in metadata):
        raise UnsupportedError(f"metadata key {CORRELATION_KEY!r} is reserved for the email id")
    return (*metadata, (CORRELATION_KEY, outgoing.id))


def headers_with_id(outgoing: Outgoing) -> tuple[tuple[str, str], ...]:
    """The email's headers followed by X-Postroom-Id; a header of that name (any case) is
    refused for the same reason as in `metadata_with_id`."""
    headers = outgoing.email.headers
    if not headers:
        return ((CORRELATION_HEADER, outgoing.id),)
    if any(name.lower() == "x-postroom-id" for name, _ in headers):
        raise UnsupportedError(f"header {CORRELATION_HEADER} is set by Postroom")
    return (*headers, (CORRELATION_HEADER, outgoing.id))


class BaseProvider(ABC, Generic[RequestT, AnswerT]):
    """build (pure) → transmit (I/O) → parse (pure). Subclasses set `name` and implement
    the three steps, `probe`, `close` and `from_url`."""

    name: str

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    async def send(self, outgoing: Outgoing) -> Receipt:
        """Return once the provider has accepted the email; raise a ProviderError otherwise."""
        return self.parse(await self.transmit(self.build(outgoing, self._clock())))

    @abstractmethod
    def build(self, outgoing: Outgoing, now: float) -> RequestT:
        """The request for one email, without I/O; UnsupportedError before anything is sent."""

    @abstractmethod
    async def transmit(self, request: RequestT) -> AnswerT:
        """Hand the request over; ProviderDownError when no answer came."""

    @abstractmethod
    def parse(self, answer: AnswerT) -> Receipt:
        """A Receipt for an acceptance, else raise the ProviderError the answer means."""

    @abstractmethod
    async def probe(self) -> Probe:
        """A read-only check of credentials and reachability; never raises for the answer."""

    async def close(self) -> None:
        """Release connections."""
        return None


def outcome_of(error: ProviderError) -> str:
    """The error class a probe reports, as the email history names it."""
    if isinstance(error, UnsupportedError):
        return "unsupported"
    if isinstance(error, PermanentError):
        return "permanent"
    if isinstance(error, ThrottledError):
        return "throttled"
    if isinstance(error, MisconfiguredError):
        return "misconfigured"
    return "down"


def probe_failed(error: ProviderError) -> Probe:
    """A Probe for a failed check: the class, the code and what was said (short, one line)."""
    cause = f"{error.code}: {error.detail}" if error.detail else error.code
    return Probe(False, outcome_of(error), " ".join(cause.split())[:PROBE_CAUSE_CHARS])
