"""Postmark's outbound webhooks: one JSON object per POST, authenticated by basic auth.

Postmark signs nothing: a webhook's URL carries credentials (`https://user:password@host/...`,
or the webhook's HttpAuth), which Postmark sends as `Authorization: Basic` on every request
(https://postmarkapp.com/developer/webhooks/webhooks-overview, "Protecting your webhook"). They
are `webhook_user=` and `webhook_password=` on the provider's URL, and compared in constant time.

The mapping onto domain/events.py follows django-anymail's anymail/webhooks/postmark.py, which
tests/data/conformance/events/postmark.json records.
"""

import base64
import binascii
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from postroom.domain.attempts import scrub
from postroom.domain.events import Bounce, EventType, ProviderEvent, RejectReason, digest_of
from postroom.providers.postmark import OPTIONS
from postroom.providers.urls import parse_url
from postroom.providers.webhooks.base import Received, WebhookRefusedError, WebhookRequest

RECORD_TYPES = {
    "Bounce": EventType.BOUNCED,  # `Type` says more (BOUNCE_TYPES)
    "SpamComplaint": EventType.COMPLAINED,  # and here
    "Delivery": EventType.DELIVERED,
    "Open": EventType.OPENED,
    "Click": EventType.CLICKED,
    "SubscriptionChange": EventType.UNSUBSCRIBED,  # SuppressSending and SuppressionReason decide
}
# A bounce's `Type` (https://postmarkapp.com/developer/api/bounce-api#bounce-types) as an event
# type and reject reason, anymail's table; also a SubscriptionChange's SuppressionReason.
BOUNCE_TYPES: dict[str, tuple[EventType, RejectReason | None]] = {
    "HardBounce": (EventType.BOUNCED, RejectReason.BOUNCED),
    "SoftBounce": (EventType.BOUNCED, RejectReason.BOUNCED),  # a HardBounce may follow
    "Transient": (EventType.DEFERRED, None),
    "DnsError": (EventType.DEFERRED, None),
    "OpenRelayTest": (EventType.DEFERRED, None),  # the receiving server testing Postmark
    "Unsubscribe": (EventType.UNSUBSCRIBED, RejectReason.UNSUBSCRIBED),
    "ManualSuppression": (EventType.UNSUBSCRIBED, RejectReason.UNSUBSCRIBED),
    "Subscribe": (EventType.SUBSCRIBED, None),
    "AutoResponder": (EventType.AUTORESPONDED, None),
    "AddressChange": (EventType.AUTORESPONDED, None),
    "ChallengeVerification": (EventType.AUTORESPONDED, None),
    "SpamNotification": (EventType.COMPLAINED, RejectReason.SPAM),
    "SpamComplaint": (EventType.COMPLAINED, RejectReason.SPAM),
    "VirusNotification": (EventType.BOUNCED, RejectReason.OTHER),
    "BadEmailAddress": (EventType.REJECTED, RejectReason.INVALID),
    "ManuallyDeactivated": (EventType.REJECTED, RejectReason.BLOCKED),
    "Blocked": (EventType.REJECTED, RejectReason.BLOCKED),
    "DMARCPolicy": (EventType.REJECTED, RejectReason.BLOCKED),
    "Unconfirmed": (EventType.REJECTED, None),
    "SMTPApiError": (EventType.FAILED, None),
    "TemplateRenderingFailed": (EventType.FAILED, None),
    "Unknown": (EventType.UNKNOWN, None),
}
# Which failures are hard and which may pass: HardBounce is the address; SoftBounce, Transient
# and DnsError are the moment.
BOUNCE_CLASSES = {
    "HardBounce": Bounce.HARD,
    "SoftBounce": Bounce.SOFT,
    "Transient": Bounce.SOFT,
    "DnsError": Bounce.SOFT,
}
# When it happened, by record type: the first of these the record has.
TIME_FIELDS = ("DeliveredAt", "BouncedAt", "ReceivedAt", "ChangedAt")

_MALFORMED = (400, "malformed")
_AUTH = (401, "auth")


class PostmarkInbound:
    """Postmark's webhook endpoint for one configured provider: `webhook_user=` and
    `webhook_password=` on the provider's URL; without both every request is refused."""

    kind = "postmark"

    def __init__(self, user: str, password: str, name: str = "postmark") -> None:
        self.name = name
        self._credentials = f"{user}:{password}".encode() if user and password else b""

    @classmethod
    def from_url(cls, url: str) -> "PostmarkInbound":
        """The sending adapter's URL (providers/postmark.py) with `webhook_user=` and
        `webhook_password=`."""
        parts = parse_url(url, "postmark", OPTIONS)
        return cls(
            parts.option("webhook_user"), parts.option("webhook_password"), parts.provider_name
        )

    def __repr__(self) -> str:
        return f"PostmarkInbound({self.name})"

    async def receive(self, request: WebhookRequest) -> Received:
        """Credentials, then the one record of the body."""
        if not self._credentials:
            raise WebhookRefusedError(401, "unconfigured")
        if not credentials_match(self._credentials, request.headers.get("authorization", "")):
            raise WebhookRefusedError(*_AUTH)
        return Received(parse_events(request.body))

    async def close(self) -> None:
        return None


def credentials_match(expected: bytes, authorization: str) -> bool:
    """Whether an Authorization header is `Basic base64(user:password)` with the expected
    pair, compared in constant time."""
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, expected)


# -- parsing (pure)


def parse_events(body: bytes) -> list[ProviderEvent]:
    """The body's record as events: one, or none for a payload with no RecordType (an inbound
    message posted to the tracking URL is not a tracking event); 400 "malformed" for anything
    but a JSON object."""
    try:
        record = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise WebhookRefusedError(*_MALFORMED) from None
    if not isinstance(record, dict):
        raise WebhookRefusedError(*_MALFORMED)
    if "RecordType" not in record:
        return []
    return [parse_record(record, body)]


def parse_record(record: dict[str, Any], body: bytes) -> ProviderEvent:
    """One record as a ProviderEvent."""
    event_type, reject_reason, bounce = _classify(record)
    return ProviderEvent(
        type=event_type,
        # Email on bounces and complaints, Recipient on the others.
        recipient=_text(record.get("Email")) or _text(record.get("Recipient")),
        provider_message_id=_text(record.get("MessageID")),
        correlation_id=_text(_object(record.get("Metadata")).get("postroom_id")),
        # Only bounces and complaints have an ID (the bounce's); the digest keys the others.
        event_id=_record_id(record.get("ID")),
        digest=digest_of(body),
        timestamp=_timestamp(record),
        reject_reason=reject_reason,
        bounce=bounce,
        # The receiving server's words first, then Postmark's summary.
        description=scrub(_text(record.get("Details")) or _text(record.get("Description")) or ""),
        click_url=_text(record.get("OriginalLink")) if event_type is EventType.CLICKED else None,
    )


def _classify(record: dict[str, Any]) -> tuple[EventType, RejectReason | None, Bounce | None]:
    record_type = record.get("RecordType")
    name = record_type if isinstance(record_type, str) else ""
    event_type = RECORD_TYPES.get(name, EventType.UNKNOWN)
    if record_type == "SubscriptionChange":
        if not record.get("SuppressSending"):
            return EventType.SUBSCRIBED, None, None
        # Postmark names no cause for an unsubscribe apart from a bounce or a complaint.
        cause = record.get("SuppressionReason")
        return _by_type(cause, (EventType.UNSUBSCRIBED, RejectReason.UNSUBSCRIBED))
    if event_type in (EventType.BOUNCED, EventType.COMPLAINED):
        return _by_type(record.get("Type"), (event_type, None))
    return event_type, None, None


def _by_type(
    name: Any, default: tuple[EventType, RejectReason | None]
) -> tuple[EventType, RejectReason | None, Bounce | None]:
    if not isinstance(name, str):
        return (*default, None)
    event_type, reject_reason = BOUNCE_TYPES.get(name, default)
    return event_type, reject_reason, BOUNCE_CLASSES.get(name)


def _timestamp(record: dict[str, Any]) -> int | None:
    for name in TIME_FIELDS:
        text = _text(record.get(name))
        if text is None:
            continue
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        # Postmark's times carry their offset ("in ISO 8601 format", webhooks overview); one
        # without is read as UTC, never as this machine's local time.
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp())
    return None


def _record_id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return _text(value)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
