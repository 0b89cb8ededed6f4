"""The magic recipients as the simulated providers see them: which events to report, by address.

The vocabulary is the domain's (domain/magic.py), shared with the outbox, so both tell the same
story of `bounce+signup@simulator.example.com`. Here each event is a Kind, the key every
provider's webhook module writes in its own words. Any other recipient, on any domain, is
delivered: what a provider reports for most mail.
"""

from enum import StrEnum

from postroom.domain.events import Bounce, EventType
from postroom.domain.magic import MAGIC_DOMAIN, story

DOMAIN = MAGIC_DOMAIN


class Kind(StrEnum):
    """One event about one recipient, in no provider's words."""

    DELIVERED = "delivered"
    HARD_BOUNCE = "bounce"
    SOFT_BOUNCE = "softbounce"
    # Delivery put off by the receiving server; the provider retries.
    DEFERRED = "deferred"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    OPEN = "open"
    CLICK = "click"
    # Dropped by the provider itself, before any attempt to deliver.
    REJECT = "reject"


# The domain's (type, bounce) of each simulated event → its Kind.
KINDS: dict[tuple[EventType, Bounce | None], Kind] = {
    (EventType.DELIVERED, None): Kind.DELIVERED,
    (EventType.BOUNCED, Bounce.HARD): Kind.HARD_BOUNCE,
    (EventType.BOUNCED, Bounce.SOFT): Kind.SOFT_BOUNCE,
    (EventType.DEFERRED, None): Kind.DEFERRED,
    (EventType.COMPLAINED, None): Kind.COMPLAINT,
    (EventType.UNSUBSCRIBED, None): Kind.UNSUBSCRIBE,
    (EventType.OPENED, None): Kind.OPEN,
    (EventType.CLICKED, None): Kind.CLICK,
    (EventType.REJECTED, None): Kind.REJECT,
}


def kinds_for(recipient: str) -> list[Kind]:
    """The events reported for `recipient` (an addr-spec), in order; never empty. Letter case
    does not matter, and an unknown word on the magic domain is delivered like any address."""
    told = story(recipient.strip())
    if told is None:
        return [Kind.DELIVERED]
    return [KINDS[(event.type, event.bounce)] for event in told]
