"""The suppression list's rules: which events suppress an address, for how long, where.

Owned by Postroom, not by any provider: a hard bounce, a complaint or an unsubscribe reported by
one provider stops sends to that address through every provider (docs/suppressions.md).
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from postroom.domain.events import Bounce, EventType, RejectReason
from postroom.domain.message import Address, Email

# Every stream: an entry with this scope applies to every email of its tenant.
ALL_SCOPES = "*"
# Soft bounces to one address within SOFT_BOUNCE_WINDOW seconds that suppress it, for
# SOFT_BOUNCE_EXPIRY seconds: a full mailbox usually empties, a dead one keeps bouncing.
SOFT_BOUNCE_LIMIT = 3
SOFT_BOUNCE_WINDOW = 7 * 24 * 3600.0
SOFT_BOUNCE_EXPIRY = 7 * 24 * 3600.0
MAX_SCOPE_CHARS = 128


class Reason(StrEnum):
    HARD_BOUNCE = "hard_bounce"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    MANUAL = "manual"
    INVALID = "invalid"
    REPEATED_SOFT_BOUNCE = "repeated_soft_bounce"


@dataclass(frozen=True, slots=True)
class Suppression:
    tenant: str
    address: str  # normalised (normalise below)
    scope: str
    reason: Reason
    created_at: float
    # None: until removed. Complaints and unsubscribes never expire on their own.
    expires_at: float | None = None
    # Where it came from: the provider's name and event type, and the email, for automatic ones.
    provider: str = ""
    event: str = ""
    email_id: str = ""

    def active(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now

    def applies_to(self, tags: Collection[str]) -> bool:
        """An entry for every stream, or for a stream (tag) the email carries."""
        return self.scope == ALL_SCOPES or self.scope in tags


def normalise(address: str) -> str:
    """The form every entry is keyed by: surrounding space dropped and case folded. Local parts
    are case-sensitive in theory and never in practice; a list that missed `Ann@x` because the
    bounce said `ann@x` would be the worse error."""
    return address.strip().casefold()


def reason_for(
    kind: EventType, bounce: Bounce | None, reject_reason: RejectReason | None
) -> Reason | None:
    """The suppression a provider event causes by itself, if any. Repeated soft bounces are
    counted by the caller (they need the address's history)."""
    if kind is EventType.COMPLAINED:
        return Reason.COMPLAINT
    if kind is EventType.UNSUBSCRIBED:
        return Reason.UNSUBSCRIBE
    if kind is EventType.BOUNCED and bounce is not Bounce.SOFT:
        return Reason.HARD_BOUNCE  # a bounce the provider did not call soft is taken as hard
    if kind is EventType.REJECTED:
        return _rejected(reject_reason)
    return None


def _rejected(reason: RejectReason | None) -> Reason | None:
    """A provider refusing to send because of its own suppression list: mirror it here, so
    the next provider of a failover chain is not tried on an address known to be bad."""
    if reason is RejectReason.BOUNCED:
        return Reason.HARD_BOUNCE
    if reason is RejectReason.SPAM:
        return Reason.COMPLAINT
    if reason is RejectReason.UNSUBSCRIBED:
        return Reason.UNSUBSCRIBE
    if reason is RejectReason.INVALID:
        return Reason.INVALID
    return None


def is_soft_bounce(kind: EventType, bounce: Bounce | None) -> bool:
    return kind is EventType.BOUNCED and bounce is Bounce.SOFT


def expiry(reason: Reason, now: float) -> float | None:
    """When an automatic entry lapses by itself: only repeated soft bounces do."""
    if reason is Reason.REPEATED_SOFT_BOUNCE:
        return now + SOFT_BOUNCE_EXPIRY
    return None


def blocking(entries: Iterable[Suppression], tags: Collection[str], now: float) -> set[str]:
    """The addresses the active entries among `entries` block for an email with these tags."""
    return {e.address for e in entries if e.active(now) and e.applies_to(tags)}


def without(email: Email, positions: Collection[int]) -> Email:
    """The email without the recipients at `positions` (in Email.recipients() order). With no
    `to` left, the first remaining cc takes its place: providers refuse an email without one.
    (Remaining bcc recipients are never moved: that would show them to everyone.)"""
    kept = [
        tuple(a for i, a in group if i not in positions)
        for group in _numbered(email.to, email.cc, email.bcc)
    ]
    to, cc, bcc = kept
    if not to and cc:
        to, cc = cc[:1], cc[1:]
    return replace(email, to=to, cc=cc, bcc=bcc)


def _numbered(
    *groups: tuple[Address, ...],
) -> list[list[tuple[int, Address]]]:
    numbered, start = [], 0
    for group in groups:
        numbered.append([(start + i, a) for i, a in enumerate(group)])
        start += len(group)
    return numbered


def field_names(email: Email, positions: Collection[int]) -> list[str]:
    """`to[0]`, `cc[1]`…: how the API names recipients at these positions."""
    names = []
    for group, numbered in zip(
        ("to", "cc", "bcc"), _numbered(email.to, email.cc, email.bcc), strict=True
    ):
        names += [f"{group}[{j}]" for j, (i, _) in enumerate(numbered) if i in positions]
    return names
