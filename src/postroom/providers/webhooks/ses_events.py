"""SES events, as event publishing and the older feedback notifications write them, read into
ProviderEvents: one per recipient (https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html,
https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html).

Pure: ses.py hands over the event once the SNS envelope around it is verified, ses_queue.py a
raw event read from an SQS queue.
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from postroom.domain.attempts import scrub
from postroom.domain.events import Bounce, EventType, ProviderEvent, RejectReason
from postroom.domain.rules import CORRELATION_KEY
from postroom.providers.webhooks.base import WebhookRefusedError

# SES's bounce types (https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html).
# Undetermined is soft: SES itself suppresses an address on Permanent bounces only, and the
# domain's rule takes a bounce without a kind as hard.
_BOUNCES = {"Permanent": Bounce.HARD, "Transient": Bounce.SOFT, "Undetermined": Bounce.SOFT}
# The object beside `mail` that each event type carries, with that event's own time.
_SECTIONS = {
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Delivery": "delivery",
    "Send": "send",
    "Reject": "reject",
    "Open": "open",
    "Click": "click",
    "Rendering Failure": "failure",
    "DeliveryDelay": "deliveryDelay",
    "Subscription": "subscription",
}


def ses_events(
    event: dict[str, Any], *, event_id: str | None, digest: str, at: float | None
) -> list[ProviderEvent]:
    """One ProviderEvent per recipient the SES event names. `at` is the envelope's Timestamp;
    without one (a raw event) the event's own time is used. 400 malformed for what is no SES
    event. `eventType` is event publishing's name for the type, `notificationType` that of the
    older feedback notifications; the records are otherwise the same."""
    kind = event.get("eventType", event.get("notificationType"))
    if not isinstance(kind, str):
        raise _malformed()
    mail = as_object(event.get("mail", {}))
    section = as_object(event.get(_SECTIONS.get(kind, ""), {}))
    if at is None:
        at = timestamp(section.get("timestamp")) or timestamp(mail.get("timestamp"))
    base = ProviderEvent(
        type=EventType.UNKNOWN,
        recipient=None,
        provider_message_id=_text(mail.get("messageId")) or None,
        correlation_id=correlation_id(mail),
        event_id=event_id,
        digest=digest,
        timestamp=at,
    )
    reader = _READERS.get(kind)
    if reader is None:
        # A type this module does not know (or an inbound "Received"): recorded as unknown.
        recipients = _strings(mail.get("destination", [])) or [None]
        return [replace(base, recipient=r, description=scrub(kind)) for r in recipients]
    return reader(base, section, mail)


def correlation_id(mail: dict[str, Any]) -> str | None:
    """Postroom's email id, sent as the SES EmailTag `postroom_id` (providers/ses.py), which
    event publishing returns in `mail.tags` as a list of values."""
    values = mail.get("tags", {})
    found = values.get(CORRELATION_KEY) if isinstance(values, dict) else None
    if isinstance(found, list) and found and isinstance(found[0], str) and found[0]:
        return found[0]
    return None


def timestamp(value: Any) -> float | None:
    """Unix seconds of an ISO 8601 time such as 2018-03-26T17:58:59.675Z; None if it is none."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo is not None else None


Reader = Callable[[ProviderEvent, dict[str, Any], dict[str, Any]], list[ProviderEvent]]


def _bounce(
    base: ProviderEvent, bounce: dict[str, Any], mail: dict[str, Any]
) -> list[ProviderEvent]:
    kind = _text(bounce.get("bounceType"))
    summary = f"{kind}: {_text(bounce.get('bounceSubType'))}"
    return [
        replace(
            base,
            type=EventType.BOUNCED,
            recipient=address,
            reject_reason=RejectReason.BOUNCED,
            bounce=_BOUNCES.get(kind),
            description=scrub(_text(item.get("diagnosticCode")) or summary),
        )
        for address, item in _recipients(bounce.get("bouncedRecipients"))
    ]


def _complaint(
    base: ProviderEvent, complaint: dict[str, Any], mail: dict[str, Any]
) -> list[ProviderEvent]:
    feedback = scrub(_text(complaint.get("complaintFeedbackType")))
    return [
        replace(
            base,
            type=EventType.COMPLAINED,
            recipient=address,
            reject_reason=RejectReason.SPAM,
            description=feedback,
        )
        for address, _ in _recipients(complaint.get("complainedRecipients"))
    ]


def _delivery(
    base: ProviderEvent, delivery: dict[str, Any], mail: dict[str, Any]
) -> list[ProviderEvent]:
    # Only the recipients this delivery was for, not every address of the email.
    recipients = _strings(delivery.get("recipients"))
    return [replace(base, type=EventType.DELIVERED, recipient=r) for r in recipients]


def _delay(base: ProviderEvent, delay: dict[str, Any], mail: dict[str, Any]) -> list[ProviderEvent]:
    kind = _text(delay.get("delayType"))
    return [
        replace(
            base,
            type=EventType.DEFERRED,
            recipient=address,
            description=scrub(_text(item.get("diagnosticCode")) or kind),
        )
        for address, item in _recipients(delay.get("delayedRecipients"))
    ]


def _subscription(
    base: ProviderEvent, change: dict[str, Any], mail: dict[str, Any]
) -> list[ProviderEvent]:
    """A recipient changed their list preferences: unsubscribed when they left everything or
    opted out of a topic they were in, else subscribed."""
    new = as_object(change.get("newTopicPreferences", {}))
    old = as_object(change.get("oldTopicPreferences", {}))
    left = new.get("unsubscribeAll") is True or bool(_opted_out(new) - _opted_out(old))
    kind = EventType.UNSUBSCRIBED if left else EventType.SUBSCRIBED
    description = scrub(_text(change.get("source")))
    return [
        replace(base, type=kind, recipient=r, description=description)
        for r in _strings(mail.get("destination"))
    ]


def _opted_out(preferences: dict[str, Any]) -> set[str]:
    topics = preferences.get("topicSubscriptionStatus", [])
    if not isinstance(topics, list):
        raise _malformed()
    return {
        _text(t.get("topicName"))
        for t in topics
        if isinstance(t, dict) and t.get("subscriptionStatus") == "OptOut"
    }


def _per_destination(
    kind: EventType,
    reject_reason: RejectReason | None = None,
    detail: str = "",
    link: str = "",
) -> Reader:
    """A reader for the types SES reports once for the whole email (sends, rejections, opens,
    clicks: SES does not say which recipient opened), as one event per destination."""

    def read(
        base: ProviderEvent, section: dict[str, Any], mail: dict[str, Any]
    ) -> list[ProviderEvent]:
        description = scrub(_text(section.get(detail))) if detail else ""
        url = (_text(section.get(link)) or None) if link else None
        return [
            replace(
                base,
                type=kind,
                recipient=r,
                reject_reason=reject_reason,
                description=description,
                click_url=url,
            )
            for r in _strings(mail.get("destination"))
        ]

    return read


_READERS: dict[str, Reader] = {
    "Bounce": _bounce,
    "Complaint": _complaint,
    "Delivery": _delivery,
    "DeliveryDelay": _delay,
    "Subscription": _subscription,
    "Send": _per_destination(EventType.SENT),
    "Reject": _per_destination(EventType.REJECTED, RejectReason.BLOCKED, detail="reason"),
    "Open": _per_destination(EventType.OPENED),
    "Click": _per_destination(EventType.CLICKED, link="link"),
    "Rendering Failure": _per_destination(EventType.FAILED, detail="errorMessage"),
}


def _recipients(items: Any) -> list[tuple[str, dict[str, Any]]]:
    """`[{"emailAddress": ..., ...}, ...]` as (address, item) pairs."""
    if not isinstance(items, list):
        raise _malformed()
    pairs = [(as_object(item).get("emailAddress"), item) for item in items]
    if any(not isinstance(address, str) or not address for address, _ in pairs):
        raise _malformed()
    return [(str(address), item) for address, item in pairs]


def _strings(items: Any) -> list[str | None]:
    if not isinstance(items, list) or any(not isinstance(i, str) or not i for i in items):
        raise _malformed()
    return list(items)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _malformed()
    return value


def _malformed() -> WebhookRefusedError:
    return WebhookRefusedError(400, "malformed")
