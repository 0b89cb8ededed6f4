"""Which events suppress an address, and how suppressed recipients leave an email."""

import pytest

from postroom.domain.events import Bounce, EventType, RejectReason
from postroom.domain.message import Address, Email
from postroom.domain.suppression import (
    ALL_SCOPES,
    Reason,
    Suppression,
    expiry,
    field_names,
    normalise,
    reason_for,
    without,
)

E = EventType


@pytest.mark.parametrize(
    ("kind", "bounce", "rejected", "reason"),
    [
        (E.BOUNCED, Bounce.HARD, None, Reason.HARD_BOUNCE),
        (E.BOUNCED, None, None, Reason.HARD_BOUNCE),
        (E.BOUNCED, Bounce.SOFT, None, None),
        (E.COMPLAINED, None, None, Reason.COMPLAINT),
        (E.UNSUBSCRIBED, None, None, Reason.UNSUBSCRIBE),
        (E.REJECTED, None, RejectReason.BOUNCED, Reason.HARD_BOUNCE),
        (E.REJECTED, None, RejectReason.SPAM, Reason.COMPLAINT),
        (E.REJECTED, None, RejectReason.INVALID, Reason.INVALID),
        (E.REJECTED, None, RejectReason.OTHER, None),
        (E.DELIVERED, None, None, None),
        (E.DEFERRED, None, None, None),
    ],
)
def test_reason_for(
    kind: EventType, bounce: Bounce | None, rejected: RejectReason | None, reason: Reason | None
) -> None:
    """Hard bounces, complaints, unsubscribes and a provider's own suppressions suppress."""
    assert reason_for(kind, bounce, rejected) is reason


def test_only_repeated_soft_bounces_expire() -> None:
    """Complaints and hard bounces never lapse by themselves; repeated soft bounces do."""
    assert expiry(Reason.COMPLAINT, 100.0) is None
    assert expiry(Reason.HARD_BOUNCE, 100.0) is None
    assert expiry(Reason.REPEATED_SOFT_BOUNCE, 100.0) == 100.0 + 7 * 24 * 3600


def test_scope_and_expiry() -> None:
    """An entry applies to every stream with `*`, else to emails with its tag, until it lapses."""
    entry = Suppression("t", "a@example.com", "news", Reason.MANUAL, 0.0, expires_at=10.0)
    assert entry.applies_to({"news"})
    assert not entry.applies_to({"receipts"})
    assert entry.active(9.0)
    assert not entry.active(10.0)
    assert Suppression("t", "a@example.com", ALL_SCOPES, Reason.MANUAL, 0.0).applies_to(set())


def test_normalise_folds_case_and_space() -> None:
    """`Ann@Example.COM ` and `ann@example.com` are one entry."""
    assert normalise(" Ann@Example.COM ") == "ann@example.com"


def _email() -> Email:
    a, b, c, d = (Address(f"{n}@example.com") for n in "abcd")
    return Email(Address("s@example.com"), to=(a, b), cc=(c,), bcc=(d,))


def test_without_drops_positions() -> None:
    """Recipients are numbered to, cc, bcc; the dropped ones leave, the rest keep their place."""
    kept = without(_email(), {1, 3})
    assert [x.email for x in kept.to] == ["a@example.com"]
    assert [x.email for x in kept.cc] == ["c@example.com"]
    assert kept.bcc == ()


def test_without_promotes_a_cc_when_no_to_is_left() -> None:
    """With every `to` dropped, the first cc becomes the `to`; a bcc never does."""
    kept = without(_email(), {0, 1})
    assert [x.email for x in kept.to] == ["c@example.com"]
    assert kept.cc == ()
    assert [x.email for x in kept.bcc] == ["d@example.com"]


def test_field_names() -> None:
    """Positions are named as the API names the fields."""
    assert field_names(_email(), {0, 2, 3}) == ["to[0]", "cc[0]", "bcc[0]"]
