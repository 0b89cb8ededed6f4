"""What every provider's webhook module shares: the events of one step, the request built for
them, and the plan that puts each recipient's events in order."""

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any

from postroom.simulator.events import Kind, kinds_for
from postroom.simulator.webhooks.settings import WebhookSettings

# Where a click goes when the email has no link of its own.
DEFAULT_LINK = "https://simulator.example.com/"
_LINK = re.compile(r"""href\s*=\s*["'](https?://[^"'\s]+)["']""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Event:
    kind: Kind
    recipient: str
    # Unix seconds: when the provider saw it happen.
    at: float


@dataclass(frozen=True, slots=True)
class Post:
    """One webhook request as the provider makes it. `body` is the exact bytes any signature
    covers; `headers` hold the signature where the provider puts it there."""

    body: bytes
    headers: dict[str, str]
    events: tuple[Event, ...]


# (the id the send API returned, what it received, one step's events, the settings) → the
# requests the provider makes for them, in order.
Build = Callable[[str, dict[str, Any], Sequence[Event], WebhookSettings], list[Post]]


@dataclass(frozen=True, slots=True)
class Format:
    """One provider's webhooks: who an accepted payload was sent to, and the requests for
    one step of their events."""

    recipients: Callable[[dict[str, Any]], list[str]]
    build: Build


def steps(recipients: Sequence[str]) -> list[list[tuple[str, Kind]]]:
    """Each recipient's events, step by step: step i holds the i-th event of every recipient
    that has one, in recipient order. A later step is posted only after the earlier ones, so
    each recipient's events arrive in order."""
    plans = [(recipient, kinds_for(recipient)) for recipient in recipients]
    depth = max((len(kinds) for _, kinds in plans), default=0)
    return [
        [(recipient, kinds[i]) for recipient, kinds in plans if i < len(kinds)]
        for i in range(depth)
    ]


def mailboxes(values: Iterable[str]) -> list[str]:
    """The addresses of header-style values (`Name <a@x>, b@y`), in order; empty ones left out."""
    return [address for _, address in getaddresses(list(values)) if "@" in address]


def first_link(html: str) -> str:
    """The first http(s) link of an HTML body, where a simulated click goes."""
    match = _LINK.search(html)
    return match.group(1) if match else DEFAULT_LINK


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()
