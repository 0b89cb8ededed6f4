"""What providers tell us after they took an email, in one vocabulary (docs/events.md).

The vocabulary is django-anymail's, so a user who knows one knows the other, plus Postroom's own
(`scheduled`, `cancelled`, `suppressed`). Every provider's inbound module turns its webhook body
into these events; nothing downstream knows which provider spoke.
"""

import hashlib
from dataclasses import dataclass
from enum import StrEnum


class EventType(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    REJECTED = "rejected"
    FAILED = "failed"
    BOUNCED = "bounced"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    AUTORESPONDED = "autoresponded"
    OPENED = "opened"
    CLICKED = "clicked"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    # A recipient opted back in (Postmark's SubscriptionChange reactivation): recorded only.
    SUBSCRIBED = "subscribed"
    # A provider event this vocabulary has no word for: recorded, changes nothing.
    UNKNOWN = "unknown"
    # Postroom's own.
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"


class RejectReason(StrEnum):
    INVALID = "invalid"
    BOUNCED = "bounced"
    TIMED_OUT = "timed_out"
    BLOCKED = "blocked"
    SPAM = "spam"
    UNSUBSCRIBED = "unsubscribed"
    OTHER = "other"


class Bounce(StrEnum):
    HARD = "hard"
    SOFT = "soft"


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One event about one recipient of one email, as a provider reported it.

    `event_id` is the provider's idempotency key for the event where it has one (Mailgun's
    event id, SendGrid's sg_event_id, SNS's MessageId, Postmark's bounce ID); `digest` is a hash
    of the raw event, the key when there is no id. SNS shares one MessageId across every
    recipient of a notification, so the stored key is (event_id or digest, recipient).
    `description` is the provider's diagnostic text, already scrubbed of addresses.
    """

    type: EventType
    recipient: str | None
    # The id the provider gave the email when it took it (the attempts table's message_id).
    provider_message_id: str | None
    # Postroom's email id, from the provider's custom data (`postroom_id`), when carried back.
    correlation_id: str | None
    event_id: str | None
    digest: str
    # Unix seconds when it happened at the provider; None when the payload has no time.
    timestamp: float | None
    reject_reason: RejectReason | None = None
    bounce: Bounce | None = None
    description: str = ""
    # Clicked events only; the URL may hold a recipient's token, so it is not kept beyond this.
    click_url: str | None = None

    @property
    def dedup_key(self) -> str:
        """What makes a second copy of this event the same event: hashed, since it holds the
        recipient's address and is stored as it is."""
        text = f"{self.event_id or self.digest}\n{(self.recipient or '').casefold()}"
        return hashlib.sha256(text.encode()).hexdigest()


def digest_of(raw: bytes) -> str:
    """The key of an event that has no id of its own: a hash of its exact bytes."""
    return hashlib.sha256(raw).hexdigest()
