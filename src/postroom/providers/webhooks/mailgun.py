"""Mailgun's event webhooks: JSON ("webhooks 2.0") and the legacy form-encoded ones.

Mailgun signs each request: `signature = hex(HMAC-SHA256(webhook signing key, timestamp +
token))`, in the body's `signature` object (JSON) or as the form fields `timestamp`, `token`,
`signature` (legacy), "Securing Webhooks":
https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks. The
signature covers the timestamp and token only, not the event beside them: a captured signature
could carry another event. So, as the page suggests, a token is never honoured twice for
different bodies: it goes back as `Received.replay` with a hash of the exact body (the event
store refuses it with another body, and records Mailgun's identical retry once); and a
timestamp more than MAX_SKEW from the current time is refused here.

The mapping onto domain/events.py follows django-anymail's anymail/webhooks/mailgun.py, which
tests/data/conformance/events/mailgun.json records.
"""

import email.parser
import email.policy
import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any
from urllib.parse import parse_qs

from postroom.domain.attempts import scrub
from postroom.domain.events import Bounce, EventType, ProviderEvent, RejectReason, digest_of
from postroom.ports.events import Replay
from postroom.providers.mailgun import OPTIONS
from postroom.providers.urls import parse_url
from postroom.providers.webhooks.base import Received, WebhookRefusedError, WebhookRequest

# "There can be delays in webhook processing that are outside of Mailgun's control so you don't
# want to be too aggressive with this check" (Securing Webhooks). Mailgun retries a request it
# got no 200 for over 8 hours (5 min, 10 min, 15 min, 1 h, 2 h, 4 h: "Webhooks" in its user
# manual) and does not say that a retry is signed again, so a window shorter than that could
# refuse its own retries after an outage here and lose the events. A replay inside the window
# is refused by the stored token (kept for the retention period), so the window only has to
# outlast the retries: nine hours either way.
MAX_SKEW = 9 * 3600

EVENT_TYPES = {
    "accepted": EventType.QUEUED,
    "rejected": EventType.REJECTED,
    "delivered": EventType.DELIVERED,
    "failed": EventType.BOUNCED,  # severity "temporary" makes it DEFERRED
    "opened": EventType.OPENED,
    "clicked": EventType.CLICKED,
    "unsubscribed": EventType.UNSUBSCRIBED,
    "complained": EventType.COMPLAINED,
}
# event-data.reason of failed and rejected events; any other reason is OTHER (anymail's table:
# Mailgun documents these values only by example).
REJECT_REASONS = {
    "bounce": RejectReason.BOUNCED,
    "suppress-bounce": RejectReason.BOUNCED,
    "generic": RejectReason.OTHER,
}
LEGACY_EVENT_TYPES = {
    "delivered": EventType.DELIVERED,
    "dropped": EventType.REJECTED,
    "bounced": EventType.BOUNCED,
    "complained": EventType.COMPLAINED,
    "unsubscribed": EventType.UNSUBSCRIBED,
    "opened": EventType.OPENED,
    "clicked": EventType.CLICKED,
}
# The legacy `code` field: an SMTP code, or one of Mailgun's own 6xx for a drop; any other
# 4xx/5xx is a bounce.
LEGACY_REJECT_CODES = {
    499: RejectReason.TIMED_OUT,  # "Unable to connect to MX servers"
    605: RejectReason.BOUNCED,  # "Not delivering to previously bounced address"
    607: RejectReason.SPAM,  # "Not delivering to a user who marked your messages as spam"
}

_MALFORMED = (400, "malformed")
_SIGNATURE = (401, "signature")

Form = dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class Signed:
    """What Mailgun signed: the timestamp and token as sent, and the signatures offered (a
    subaccount's events also carry `parent-signature`, made with the primary account's key)."""

    timestamp: str
    token: str
    signatures: tuple[str, ...]


class MailgunInbound:
    """Mailgun's webhook endpoint for one configured provider: `webhook_signing_key=` on the
    provider's URL; without it every request is refused."""

    kind = "mailgun"

    def __init__(self, signing_key: str, name: str = "mailgun") -> None:
        self.name = name
        self._key = signing_key.encode()

    @classmethod
    def from_url(cls, url: str) -> "MailgunInbound":
        """The sending adapter's URL (providers/mailgun.py) with `webhook_signing_key=`."""
        parts = parse_url(url, "mailgun", OPTIONS)
        return cls(parts.option("webhook_signing_key"), parts.provider_name)

    def __repr__(self) -> str:
        return f"MailgunInbound({self.name})"

    async def receive(self, request: WebhookRequest) -> Received:
        """Signature, then freshness, then the event; the token is the replay key."""
        if not self._key:
            raise WebhookRefusedError(401, "unconfigured")
        if _is_json(request):
            payload = _json_object(request.body)
            signed = _json_signature(payload)
            verify(self._key, signed, request.now)
            events = [parse_event(payload.get("event-data"), signed.token, request.body)]
        else:
            form = _form(request)
            signed = _form_signature(form)
            verify(self._key, signed, request.now)
            events = parse_legacy(form, signed, request.body)
        return Received(events, Replay(signed.token, digest_of(request.body)))

    async def close(self) -> None:
        return None


# -- verification


def signature_matches(key: bytes, timestamp: str, token: str, signature: str) -> bool:
    """Whether `signature` is Mailgun's lower-case hex HMAC-SHA256 of timestamp + token, compared
    in constant time over bytes (compare_digest refuses non-ASCII str; the bytes never do).
    Text is encoded with surrogatepass: JSON can carry a lone surrogate, which is a mismatch,
    not an error."""
    signed = (timestamp + token).encode("utf-8", "surrogatepass")
    expected = hmac.new(key, signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogatepass"))


def verify(key: bytes, signed: Signed, now: float) -> None:
    """401 "signature" unless one of the signatures is right; 401 "stale" for a timestamp more
    than MAX_SKEW from `now` (checked after the signature: "stale" then means Mailgun's own
    request, late, or replayed)."""
    if not any(
        signature_matches(key, signed.timestamp, signed.token, s) for s in signed.signatures
    ):
        raise WebhookRefusedError(*_SIGNATURE)
    try:
        sent = float(signed.timestamp)
    except ValueError:
        raise WebhookRefusedError(401, "stale") from None
    if not abs(now - sent) <= MAX_SKEW:  # also refuses nan
        raise WebhookRefusedError(401, "stale")


def _json_signature(payload: dict[str, Any]) -> Signed:
    block = payload.get("signature")
    if not isinstance(block, dict):
        raise WebhookRefusedError(*_SIGNATURE)
    timestamp, token = block.get("timestamp"), block.get("token")
    # The docs give the timestamp as a string and type it "int": the signed text is its digits.
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        timestamp = str(timestamp)
    signatures = tuple(
        s for s in (block.get("signature"), block.get("parent-signature")) if isinstance(s, str)
    )
    if not isinstance(timestamp, str) or not isinstance(token, str) or not signatures:
        raise WebhookRefusedError(*_SIGNATURE)
    return Signed(timestamp, token, signatures)


def _form_signature(form: Form) -> Signed:
    # Mailgun merges the email's custom variables into the legacy form, so a variable named
    # `token` comes first and Mailgun's own field last: the signed values are the last ones.
    timestamp, token, signature = (_last(form, key) for key in ("timestamp", "token", "signature"))
    if timestamp is None or token is None or signature is None:
        raise WebhookRefusedError(*_SIGNATURE)
    return Signed(timestamp, token, (signature,))


# -- reading the body


def _is_json(request: WebhookRequest) -> bool:
    media = _media_type(request)
    return media == "application/json" or (not media and request.body.lstrip()[:1] == b"{")


def _media_type(request: WebhookRequest) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise WebhookRefusedError(*_MALFORMED) from None
    if not isinstance(payload, dict):
        raise WebhookRefusedError(*_MALFORMED)
    return payload


def _form(request: WebhookRequest) -> Form:
    """The legacy fields, form-urlencoded or multipart (Mailgun used both), in order."""
    if _media_type(request) == "multipart/form-data":
        return _multipart(request.headers.get("content-type", ""), request.body)
    try:
        return parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise WebhookRefusedError(*_MALFORMED) from None


def _multipart(content_type: str, body: bytes) -> Form:
    # The email package reads multipart/form-data as a MIME message of one part per field.
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise WebhookRefusedError(*_MALFORMED)
    form: Form = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or part.get_filename() or not isinstance(payload, bytes):
            continue  # attachments and parts without a field name carry no event data
        charset = part.get_content_charset() or "utf-8"
        form.setdefault(name, []).append(payload.decode(charset, "replace"))
    return form


# -- JSON webhooks (pure)


def parse_event(data: Any, token: str, body: bytes) -> ProviderEvent:
    """One `event-data` object as a ProviderEvent; 400 "malformed" when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        raise WebhookRefusedError(*_MALFORMED)
    name = data["event"]
    event_type = EVENT_TYPES.get(name, EventType.UNKNOWN)
    if name == "failed" and data.get("severity") == "temporary":
        event_type = EventType.DEFERRED
    headers = _object(_object(data.get("message")).get("headers"))
    recipient = _text(data.get("recipient"))
    if recipient is None and event_type is EventType.REJECTED:
        # A rejected event names no recipient: the To header does (anymail does the same).
        recipient = _address(headers.get("to"))
    return ProviderEvent(
        type=event_type,
        recipient=recipient,
        provider_message_id=_bare_id(headers.get("message-id")),
        correlation_id=_text(_object(data.get("user-variables")).get("postroom_id")),
        # The event's own id ("unique within a day", Mailgun's Event Structure page:
        # https://documentation.mailgun.com/docs/mailgun/user-manual/events/event-structure),
        # so one event posted under two signatures (a domain-level and an account-level
        # webhook, or a retry signed anew) is stored once; the token, unique per signed request,
        # when it has none. anymail uses the token always.
        event_id=_text(data.get("id")) or token,
        digest=digest_of(body),
        timestamp=_seconds(data.get("timestamp")),
        reject_reason=_reject_reason(data, event_type),
        bounce=_bounce(data) if name == "failed" else None,
        description=scrub(_diagnostic(data)),
        click_url=_text(data.get("url")) if event_type is EventType.CLICKED else None,
    )


def _reject_reason(data: dict[str, Any], event_type: EventType) -> RejectReason | None:
    reason = data.get("reason")
    if reason is None:
        return RejectReason.OTHER if event_type is EventType.REJECTED else None
    return REJECT_REASONS.get(reason if isinstance(reason, str) else "", RejectReason.OTHER)


def _bounce(data: dict[str, Any]) -> Bounce | None:
    severity = data.get("severity")
    if severity == "permanent":
        return Bounce.HARD
    return Bounce.SOFT if severity == "temporary" else None


def _diagnostic(data: dict[str, Any]) -> str:
    # The receiving server's words first, then Mailgun's own summary; a rejection has its own.
    status = _object(data.get("delivery-status"))
    return (
        _text(status.get("message"))
        or _text(status.get("description"))
        or _text(_object(data.get("reject")).get("reason"))
        or ""
    )


# -- legacy form webhooks (pure)


def parse_legacy(form: Form, signed: Signed, body: bytes) -> list[ProviderEvent]:
    """The one event of a legacy form; none for a form without `event` (an inbound route's
    message posted to the tracking URL is not a tracking event)."""
    name = _first(form, "event")
    if name is None:
        return []
    event_type = LEGACY_EVENT_TYPES.get(name, EventType.UNKNOWN)
    return [
        ProviderEvent(
            type=event_type,
            recipient=_first(form, "recipient"),
            provider_message_id=_bare_id(_first(form, "Message-Id") or _first(form, "message-id")),
            correlation_id=_first(form, "postroom_id") or _variables_id(form),
            # Legacy events have no id of their own.
            event_id=signed.token,
            digest=digest_of(body),
            timestamp=_seconds(signed.timestamp),
            reject_reason=_legacy_reject_reason(_first(form, "code")),
            bounce=Bounce.HARD if name == "bounced" else None,
            description=scrub(_legacy_diagnostic(form)),
            click_url=_first(form, "url") if event_type is EventType.CLICKED else None,
        )
    ]


def _legacy_diagnostic(form: Form) -> str:
    for name in ("description", "error", "notification"):
        text = _first(form, name)
        if text:
            return text
    return ""


def _legacy_reject_reason(code: str | None) -> RejectReason | None:
    if code is None:
        return None
    if code.isdigit():
        number = int(code)
        default = RejectReason.BOUNCED if 400 <= number < 600 else RejectReason.OTHER
        return LEGACY_REJECT_CODES.get(number, default)
    # An RFC 3463 enhanced status code ("5.1.1"): its class decides.
    return RejectReason.BOUNCED if code[:2] in ("4.", "5.") else RejectReason.OTHER


def _variables_id(form: Form) -> str | None:
    """`postroom_id` from the X-Mailgun-Variables header among `message-headers` (a JSON list
    of [name, value]), where the events that carry the message's headers keep the variables."""
    for value in _header_values(_first(form, "message-headers"), "x-mailgun-variables"):
        try:
            variables = json.loads(value)
        except ValueError:
            continue
        found = _text(_object(variables).get("postroom_id"))
        if found:
            return found
    return None


def _header_values(raw: str | None, name: str) -> list[str]:
    """The values of header `name` (lower case) in a legacy `message-headers` field."""
    try:
        headers = json.loads(raw or "[]")
    except ValueError:
        return []
    return [
        pair[1]
        for pair in (headers if isinstance(headers, list) else ())
        if isinstance(pair, list)
        and len(pair) == 2
        and isinstance(pair[0], str)
        and pair[0].lower() == name
        and isinstance(pair[1], str)
    ]


# -- small readers


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _first(form: Form, name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _last(form: Form, name: str) -> str | None:
    values = form.get(name)
    return values[-1] if values else None


def _seconds(value: Any) -> int | None:
    """Unix seconds, the fraction dropped; None for anything that is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return int(seconds) if math.isfinite(seconds) else None


def _bare_id(value: Any) -> str | None:
    """A Message-ID without its angle brackets, as the provider's id is compared."""
    text = _text(value)
    if text is None:
        return None
    return text.strip().removeprefix("<").removesuffix(">") or None


def _address(value: Any) -> str | None:
    text = _text(value)
    return (parseaddr(text)[1] or None) if text else None
