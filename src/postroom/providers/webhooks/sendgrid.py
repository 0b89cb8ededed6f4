"""SendGrid's Event Webhook: a JSON array of events per POST, signed with ECDSA.

With "Signed Event Webhook Requests" on, SendGrid signs timestamp + body with a P-256 key and
sends the base64 DER signature and the timestamp as headers; its console shows the public key
as base64 DER ("Getting Started with the Event Webhook Security Features":
https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features).
The signature covers the body's exact bytes, so it is checked before anything is parsed.

One POST carries up to thousands of events (sendgrid/docs, tracking-events/event.md: events
are batched into one array): `parse_events` reads them in one pass, with dictionary lookups
only. The mapping onto domain/events.py follows django-anymail's anymail/webhooks/sendgrid.py,
which tests/data/conformance/events/sendgrid.json records.
"""

import base64
import binascii
import json
import math
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ec import (
    ECDSA,
    SECP256R1,
    EllipticCurvePublicKey,
)
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import load_der_public_key

from postroom.domain.attempts import scrub
from postroom.domain.events import Bounce, EventType, ProviderEvent, RejectReason, digest_of
from postroom.providers.urls import HTTP_OPTIONS, parse_url
from postroom.providers.webhooks.base import Received, WebhookRefusedError, WebhookRequest

SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"
# SendGrid states no tolerance for the timestamp, and retries a POST it got no 2xx for over 24
# hours without saying a retry is signed again: a shorter window could refuse its own retries
# after an outage here and lose the events. A replay inside the window stores nothing new (every
# event is deduplicated on its sg_event_id), so the window only has to outlast the retries.
MAX_SKEW = 25 * 3600

EVENT_TYPES = {
    "processed": EventType.QUEUED,
    "dropped": EventType.REJECTED,
    "deferred": EventType.DEFERRED,
    "bounce": EventType.BOUNCED,
    "delivered": EventType.DELIVERED,
    "open": EventType.OPENED,
    "click": EventType.CLICKED,
    "spamreport": EventType.COMPLAINED,
    "unsubscribe": EventType.UNSUBSCRIBED,
    "group_unsubscribe": EventType.UNSUBSCRIBED,
    "group_resubscribe": EventType.SUBSCRIBED,
}
# A dropped event's `type` or `reason`, lower-cased; anything else is OTHER. "Spam Reporting
# Address" is the drop of an address on the spam reports list (sendgrid/docs,
# ui/sending-email/why-are-emails-dropped): anymail leaves it OTHER.
REJECT_REASONS = {
    "invalid": RejectReason.INVALID,
    "unsubscribed address": RejectReason.UNSUBSCRIBED,
    "bounce": RejectReason.BOUNCED,
    "bounced address": RejectReason.BOUNCED,
    "blocked": RejectReason.BLOCKED,
    "expired": RejectReason.TIMED_OUT,
    "spam reporting address": RejectReason.SPAM,
}

_MALFORMED = (400, "malformed")
_SIGNATURE = (401, "signature")
# One event's canonical form, for its digest: keys sorted, no spaces (one encoder for all:
# json.dumps builds a new one per call when given options).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), check_circular=False)


class SendgridInbound:
    """SendGrid's webhook endpoint for one configured provider: `webhook_public_key=` on the
    provider's URL; without it every request is refused."""

    kind = "sendgrid"

    def __init__(self, public_key: EllipticCurvePublicKey | None, name: str = "sendgrid") -> None:
        self.name = name
        self._key = public_key

    @classmethod
    def from_url(cls, url: str) -> "SendgridInbound":
        """The sending adapter's URL (providers/sendgrid.py) with `webhook_public_key=`."""
        parts = parse_url(url, "sendgrid", HTTP_OPTIONS)
        raw = parts.option("webhook_public_key")
        return cls(load_public_key(raw) if raw else None, parts.provider_name)

    def __repr__(self) -> str:
        return f"SendgridInbound({self.name})"

    async def receive(self, request: WebhookRequest) -> Received:
        """Signature over the exact bytes, then freshness, then every event of the array."""
        if self._key is None:
            raise WebhookRefusedError(401, "unconfigured")
        verify(self._key, request)
        return Received(parse_events(request.body))

    async def close(self) -> None:
        return None


def load_public_key(text: str) -> EllipticCurvePublicKey:
    """The P-256 public key from the base64 DER SendGrid's console shows; ValueError otherwise
    (the message never holds the key)."""
    # An unencoded '+' of base64 in a URL's query reads back as a space; base64 has none.
    try:
        key = load_der_public_key(base64.b64decode(text.replace(" ", "+"), validate=True))
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, EllipticCurvePublicKey) or not isinstance(key.curve, SECP256R1):
        raise ValueError(
            "sendgrid: webhook_public_key must be the base64 DER P-256 key SendGrid shows"
        )
    return key


# -- verification


def signature_matches(
    key: EllipticCurvePublicKey, timestamp: str, body: bytes, signature: str
) -> bool:
    """Whether `signature` (base64 DER) is SendGrid's ECDSA P-256 SHA-256 signature of the
    timestamp header's text followed by the body's exact bytes."""
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, timestamp.encode("utf-8", "surrogatepass") + body, ECDSA(SHA256()))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def verify(key: EllipticCurvePublicKey, request: WebhookRequest) -> None:
    """401 "signature" for a missing or wrong signature, then 401 "stale" for a timestamp more
    than MAX_SKEW from `request.now` (after the signature: "stale" means SendGrid's own request,
    late or replayed)."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    if not signature or not timestamp:
        raise WebhookRefusedError(*_SIGNATURE)
    if not signature_matches(key, timestamp, request.body, signature):
        raise WebhookRefusedError(*_SIGNATURE)
    try:
        sent = float(timestamp)
    except ValueError:
        raise WebhookRefusedError(401, "stale") from None
    if not abs(request.now - sent) <= MAX_SKEW:  # also refuses nan
        raise WebhookRefusedError(401, "stale")


# -- parsing (pure)


def parse_events(body: bytes) -> list[ProviderEvent]:
    """Every event of the array, in order; 400 "malformed" for anything but an array of
    objects each naming its `event`."""
    try:
        batch = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise WebhookRefusedError(*_MALFORMED) from None
    if not isinstance(batch, list):
        raise WebhookRefusedError(*_MALFORMED)
    return [parse_event(item) for item in batch]


def parse_event(item: Any) -> ProviderEvent:
    """One event of the array as a ProviderEvent."""
    if not isinstance(item, dict):
        raise WebhookRefusedError(*_MALFORMED)
    name = item.get("event")
    if not isinstance(name, str):
        raise WebhookRefusedError(*_MALFORMED)
    event_type = EVENT_TYPES.get(name, EventType.UNKNOWN)
    reject_reason = bounce = None
    if name == "dropped":
        cause = _lower(item.get("type") or item.get("reason"))
        reject_reason = REJECT_REASONS.get(cause, RejectReason.OTHER)
    elif name == "bounce":
        # `type` "blocked" is a refusal that may pass (anymail: no reject reason on bounces).
        bounce = Bounce.SOFT if item.get("type") == "blocked" else Bounce.HARD
    diagnostic = _text(item.get("reason")) or _text(item.get("response"))
    return ProviderEvent(
        type=event_type,
        recipient=_text(item.get("email")),
        provider_message_id=_message_id(item.get("sg_message_id")),
        # SendGrid flattens custom_args into the event: ours is the `postroom_id` key.
        correlation_id=_text(item.get("postroom_id")),
        event_id=_text(item.get("sg_event_id")),
        # One event's bytes within a batch are not kept apart by the parser: the digest is of
        # its canonical form (keys sorted), the same whichever batch carried it.
        digest=digest_of(_CANONICAL.encode(item).encode()),
        timestamp=_seconds(item.get("timestamp")),
        reject_reason=reject_reason,
        bounce=bounce,
        description=scrub(diagnostic) if diagnostic else "",
        click_url=_text(item.get("url")) if event_type is EventType.CLICKED else None,
    )


def _message_id(value: Any) -> str | None:
    # sg_message_id is the send reply's X-Message-Id, a '.', then SendGrid's routing suffix.
    text = _text(value)
    if text is None:
        return None
    return text.partition(".")[0] or None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _lower(value: Any) -> str:
    return value.lower() if isinstance(value, str) else ""


def _seconds(value: Any) -> int | None:
    """Unix seconds, the fraction dropped; None for anything that is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if math.isfinite(value) else None
