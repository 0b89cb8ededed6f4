"""One recipient's state from its events, whatever order they arrive in."""

import itertools

from hypothesis import given
from hypothesis import strategies as st

from postroom.domain.events import Bounce, EventType
from postroom.domain.recipients import Happened, RecipientState, email_state, fold

E = EventType


def _state(*kinds: EventType, bounce: Bounce | None = None) -> RecipientState:
    return fold(
        Happened(k, float(i), bounce if k is E.BOUNCED else None) for i, k in enumerate(kinds)
    )


def test_no_events_is_queued() -> None:
    """A recipient nothing has happened to yet is queued."""
    assert fold([]).state is E.QUEUED


def test_late_delivered_never_hides_a_bounce() -> None:
    """`delivered` arriving after `bounced` leaves the recipient bounced."""
    assert _state(E.SENT, E.BOUNCED, E.DELIVERED, bounce=Bounce.HARD).state is E.BOUNCED


def test_bounce_after_delivered_wins() -> None:
    """An asynchronous hard bounce after `delivered` makes the recipient bounced."""
    state = _state(E.SENT, E.DELIVERED, E.BOUNCED, bounce=Bounce.HARD)
    assert (state.state, state.bounce) == (E.BOUNCED, Bounce.HARD)


def test_deferred_then_delivered() -> None:
    """A delivery after a deferral is delivered, in either arrival order."""
    assert _state(E.DEFERRED, E.DELIVERED).state is E.DELIVERED
    assert _state(E.DELIVERED, E.DEFERRED).state is E.DELIVERED


def test_complaint_is_sticky() -> None:
    """Once complained, always complained: a later delivery or bounce does not change it."""
    state = _state(E.DELIVERED, E.COMPLAINED, E.DELIVERED, E.BOUNCED, bounce=Bounce.HARD)
    assert state.state is E.COMPLAINED
    assert state.complained
    assert state.delivery is E.BOUNCED


def test_unsubscribe_is_sticky_under_complaint() -> None:
    """Unsubscribed shows unless the recipient also complained."""
    assert _state(E.DELIVERED, E.UNSUBSCRIBED).state is E.UNSUBSCRIBED
    assert _state(E.UNSUBSCRIBED, E.COMPLAINED).state is E.COMPLAINED


def test_opens_and_clicks_are_counts_that_imply_delivery() -> None:
    """Two opens and a click, with no delivered event, are a delivered recipient."""
    state = _state(E.SENT, E.OPENED, E.OPENED, E.CLICKED)
    assert (state.state, state.opens, state.clicks) == (E.DELIVERED, 2, 1)


def test_soft_then_hard_bounce_is_hard() -> None:
    """A hard bounce after soft ones is recorded as hard."""
    events = [Happened(E.BOUNCED, 1, Bounce.SOFT), Happened(E.BOUNCED, 2, Bounce.HARD)]
    assert fold(events).bounce is Bounce.HARD
    assert fold(reversed(events)).bounce is Bounce.HARD


_KINDS = st.sampled_from(
    [
        E.SENT,
        E.DEFERRED,
        E.DELIVERED,
        E.BOUNCED,
        E.REJECTED,
        E.FAILED,
        E.OPENED,
        E.CLICKED,
        E.COMPLAINED,
        E.UNSUBSCRIBED,
        E.UNKNOWN,
        E.AUTORESPONDED,
    ]
)


@given(st.lists(st.tuples(_KINDS, st.sampled_from([None, Bounce.HARD, Bounce.SOFT])), max_size=7))
def test_any_arrival_order_gives_the_same_state(
    events: list[tuple[EventType, Bounce | None]],
) -> None:
    """Every permutation of the same events folds to the same state."""
    happened = [Happened(k, float(i), b) for i, (k, b) in enumerate(events)]
    states = {fold(p) for p in itertools.islice(itertools.permutations(happened), 200)}
    assert len(states) <= 1


def test_email_state_is_how_far_every_recipient_got() -> None:
    """Delivered to one and bounced by another: the email is delivered; all bounced: bounced."""
    delivered, bounced = _state(E.DELIVERED), _state(E.BOUNCED, bounce=Bounce.HARD)
    assert email_state([delivered, bounced]) is E.DELIVERED
    assert email_state([bounced, bounced]) is E.BOUNCED
    assert email_state([_state(E.SENT), bounced]) is E.SENT


def test_email_state_ignores_suppressed_recipients_unless_all_are() -> None:
    """Suppressed recipients do not hold the email back; all suppressed is suppressed."""
    suppressed = _state(E.SUPPRESSED)
    assert email_state([suppressed, _state(E.DELIVERED)]) is E.DELIVERED
    assert email_state([suppressed, suppressed]) is E.SUPPRESSED
    assert email_state([]) is None
