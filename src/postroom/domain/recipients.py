"""One recipient's state, derived from its events in any order (docs/events.md, "Order").

Events arrive late, twice and out of order, so state is never "the last event": it is a fold
by rank over every event the recipient has, which gives the same answer for any arrival order.
`queued < sent < deferred < delivered < {bounced, rejected, failed}`: a late `delivered` never
hides a bounce, and a bounce after `delivered` (an asynchronous bounce) wins. `complained` and
`unsubscribed` are sticky flags shown as the state; opens and clicks are counts that imply
delivery.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from postroom.domain.events import Bounce, EventType

RANK: dict[EventType, int] = {
    EventType.QUEUED: 0,
    EventType.SCHEDULED: 0,
    EventType.SENT: 1,
    EventType.DEFERRED: 2,
    EventType.AUTORESPONDED: 3,  # a human's auto-reply came back: it was delivered
    EventType.DELIVERED: 3,
    EventType.BOUNCED: 4,
    EventType.REJECTED: 4,
    EventType.FAILED: 4,
    EventType.CANCELLED: 5,
    EventType.SUPPRESSED: 5,
}
# Of two events of one rank, the later in this list names the state (a bounce over a failure),
# so the fold gives one answer for any arrival order.
_TIE = (
    EventType.QUEUED,
    EventType.SCHEDULED,
    EventType.AUTORESPONDED,
    EventType.DELIVERED,
    EventType.FAILED,
    EventType.REJECTED,
    EventType.BOUNCED,
    EventType.CANCELLED,
    EventType.SUPPRESSED,
)


@dataclass(frozen=True, slots=True)
class Happened:
    """What the fold needs of one event."""

    type: EventType
    at: float
    bounce: Bounce | None = None


@dataclass(frozen=True, slots=True)
class RecipientState:
    state: EventType
    # The delivery state under the sticky flags (what `state` would be without them).
    delivery: EventType
    complained: bool = False
    unsubscribed: bool = False
    opens: int = 0
    clicks: int = 0
    bounce: Bounce | None = None


def fold(events: Iterable[Happened]) -> RecipientState:
    """The recipient's state from all its events; `queued` when there are none."""
    delivery, best = EventType.QUEUED, -1
    complained = unsubscribed = False
    opens = clicks = 0
    bounce: Bounce | None = None
    for event in events:
        kind = event.type
        if kind is EventType.OPENED or kind is EventType.CLICKED:
            opens += kind is EventType.OPENED
            clicks += kind is EventType.CLICKED
            kind = EventType.DELIVERED  # an open or a click proves the delivery
        complained |= kind is EventType.COMPLAINED
        unsubscribed |= kind is EventType.UNSUBSCRIBED
        if kind is EventType.COMPLAINED or kind is EventType.UNSUBSCRIBED:
            kind = EventType.DELIVERED  # only a delivered email can be complained about
        if kind is EventType.BOUNCED and event.bounce is not None:
            bounce = Bounce.HARD if Bounce.HARD in (bounce, event.bounce) else Bounce.SOFT
        rank = RANK.get(kind)
        if rank is not None and (rank, _tie(kind)) > (best, _tie(delivery)):
            delivery, best = kind, rank
    state = delivery
    if unsubscribed:
        state = EventType.UNSUBSCRIBED
    if complained:
        state = EventType.COMPLAINED
    return RecipientState(state, delivery, complained, unsubscribed, opens, clicks, bounce)


def _tie(kind: EventType) -> int:
    return _TIE.index(kind) if kind in _TIE else -1


def email_state(recipients: Iterable[RecipientState]) -> EventType | None:
    """The email's state from its recipients': how far every one of them has got. All equal,
    that state; otherwise the least advanced delivery state among those not suppressed (an email
    delivered to two and bounced by one is `delivered`; each recipient's own state says which).
    None when there is nothing to derive from (no recipient events at all)."""
    states = list(recipients)
    if not states:
        return None
    live = [s for s in states if s.delivery is not EventType.SUPPRESSED]
    if not live:
        return EventType.SUPPRESSED
    shown = {s.state for s in live}
    if len(shown) == 1:
        return shown.pop()
    return min((s.delivery for s in live), key=lambda kind: (RANK[kind], _tie(kind)))
