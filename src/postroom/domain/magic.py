"""Magic recipients: addresses that make the outbox and the fake provider report events, so
bounces, complaints and suppression can be tried on a laptop (docs/events.md, "Try it").

They live on `simulator.example.com`: example.com is reserved (RFC 2606) and receives no mail,
so a magic address sent through a real provider goes nowhere. The local part names the story,
with an optional `+label` to tell addresses apart: `bounce+ann@simulator.example.com`.
"""

from dataclasses import dataclass

from postroom.domain.events import Bounce, EventType, RejectReason

MAGIC_DOMAIN = "simulator.example.com"


@dataclass(frozen=True, slots=True)
class Simulated:
    type: EventType
    bounce: Bounce | None = None
    reject_reason: RejectReason | None = None
    description: str = ""


_D = Simulated(EventType.DELIVERED)
STORIES: dict[str, tuple[Simulated, ...]] = {
    "delivered": (_D,),
    "bounce": (
        Simulated(EventType.BOUNCED, Bounce.HARD, RejectReason.BOUNCED, "550 5.1.1 no such user"),
    ),
    "softbounce": (
        Simulated(EventType.BOUNCED, Bounce.SOFT, RejectReason.BOUNCED, "452 4.2.2 mailbox full"),
    ),
    "complaint": (_D, Simulated(EventType.COMPLAINED, reject_reason=RejectReason.SPAM)),
    "delay": (Simulated(EventType.DEFERRED, description="421 4.4.2 try again later"), _D),
    "unsubscribe": (_D, Simulated(EventType.UNSUBSCRIBED)),
    "open": (_D, Simulated(EventType.OPENED)),
    "click": (_D, Simulated(EventType.CLICKED)),
    "reject": (Simulated(EventType.REJECTED, reject_reason=RejectReason.BLOCKED),),
}


def story(address: str) -> tuple[Simulated, ...] | None:
    """The events a magic address produces, in order; None for any other address. An unknown
    story on the magic domain is simply delivered."""
    local, _, domain = address.rpartition("@")
    if domain.casefold() != MAGIC_DOMAIN:
        return None
    return STORIES.get(local.partition("+")[0].casefold(), (_D,))
