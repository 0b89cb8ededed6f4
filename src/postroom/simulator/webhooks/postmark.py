"""Postmark's webhooks, as Postmark posts them: one JSON object per request, its `RecordType`
saying which (Delivery, Bounce, SpamComplaint, Open, Click, SubscriptionChange).

`MessageID` is the id the send answered and `Metadata` the send's own, so `postroom_id` comes
back; the address is `Email` in bounce-shaped records and `Recipient` in the others. Postmark
signs nothing: the receiver's URL carries basic auth. Fields follow the records in the
conformance data (django-anymail's tests) and Postmark's bounce types (postmark.js
`BounceTypeCode`).
"""

import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from postroom.simulator.events import Kind
from postroom.simulator.webhooks.base import Event, Format, Post, first_link, mailboxes
from postroom.simulator.webhooks.settings import WebhookSettings

# The server the simulator's `GET /server` describes.
SERVER_ID = 1
_CLIENT = {"Name": "Firefox", "Company": "Mozilla", "Family": "Firefox"}
_OS = {"Name": "Linux", "Company": "-", "Family": "Linux"}
_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

# Kind → (Type, TypeCode, Name, Description, Inactive) of a bounce-shaped record.
_BOUNCES: dict[Kind, tuple[str, int, str, str, bool]] = {
    Kind.HARD_BOUNCE: (
        "HardBounce",
        1,
        "Hard bounce",
        "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        True,
    ),
    Kind.SOFT_BOUNCE: (
        "SoftBounce",
        4096,
        "Soft bounce",
        "Unable to temporarily deliver this message (i.e. mailbox full, account disabled,"
        " exceeds quota, out of storage space).",
        False,
    ),
    # Postmark reports a delay as a Transient bounce, then the Delivery when it comes.
    Kind.DEFERRED: (
        "Transient",
        2,
        "Message delayed",
        "The server could not temporarily deliver your message (ex: Message is delayed due to"
        " network troubles).",
        False,
    ),
    Kind.COMPLAINT: (
        "SpamComplaint",
        100001,
        "Spam complaint",
        "The subscriber explicitly marked this message as spam.",
        True,
    ),
    Kind.REJECT: ("Blocked", 100006, "ISP block", "The ISP has blocked this message.", False),
}
_DETAILS: dict[Kind, str] = {
    Kind.HARD_BOUNCE: "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    Kind.SOFT_BOUNCE: "smtp;452 4.2.2 The email account that you tried to reach is over quota.",
    Kind.DEFERRED: "smtp;421 4.7.0 Try again later, closing connection.",
}


def recipients(payload: dict[str, Any]) -> list[str]:
    """Every address of `To`, `Cc` and `Bcc` (comma-separated strings)."""
    return mailboxes(_text(payload, name) for name in ("To", "Cc", "Bcc"))


def build(
    message_id: str, payload: dict[str, Any], events: Sequence[Event], settings: WebhookSettings
) -> list[Post]:
    """One request per event; nothing to sign."""
    headers = {"Content-Type": "application/json"}
    return [
        Post(json.dumps(record(message_id, payload, event)).encode(), headers, (event,))
        for event in events
    ]


def record(message_id: str, payload: dict[str, Any], event: Event) -> dict[str, Any]:
    """The record Postmark posts for `event` of the email it answered with `message_id`."""
    common = {
        "MessageStream": _text(payload, "MessageStream") or "outbound",
        "ServerID": SERVER_ID,
        "MessageID": message_id,
        "Tag": _text(payload, "Tag"),
        "Metadata": dict(payload.get("Metadata") or {}),
    }
    if event.kind in _BOUNCES:
        return {**_bounce(payload, event), **common}
    return {**_activity(payload, event), **common}


def _bounce(payload: dict[str, Any], event: Event) -> dict[str, Any]:
    kind, code, name, description, inactive = _BOUNCES[event.kind]
    return {
        "RecordType": "SpamComplaint" if event.kind is Kind.COMPLAINT else "Bounce",
        # Postmark's bounce ID, a number; receivers take it as the event's id.
        "ID": 1_000_000_000 + secrets.randbelow(1_000_000_000),
        "Type": kind,
        "TypeCode": code,
        "Name": name,
        "Description": description,
        "Details": _DETAILS.get(event.kind, ""),
        "Email": event.recipient,
        "From": next(iter(mailboxes([_text(payload, "From")])), ""),
        "BouncedAt": _when(event.at),
        "DumpAvailable": False,
        "Inactive": inactive,
        "CanActivate": event.kind is not Kind.COMPLAINT,
        "Subject": _text(payload, "Subject"),
    }


def _activity(payload: dict[str, Any], event: Event) -> dict[str, Any]:
    """A Delivery, SubscriptionChange, Open or Click record."""
    at, recipient = _when(event.at), event.recipient
    if event.kind is Kind.DELIVERED:
        return {
            "RecordType": "Delivery",
            "Recipient": recipient,
            "DeliveredAt": at,
            "Details": "smtp;250 2.0.0 OK",
        }
    if event.kind is Kind.UNSUBSCRIBE:
        return {
            "RecordType": "SubscriptionChange",
            "ChangedAt": at,
            "Recipient": recipient,
            "Origin": "Recipient",
            "SuppressSending": True,
            "SuppressionReason": "ManualSuppression",
        }
    return _reading(payload, event.kind, recipient, at)


def _reading(payload: dict[str, Any], kind: Kind, recipient: str, at: str) -> dict[str, Any]:
    """An Open or a Click record: who read the email, with what."""
    reader = {"Client": _CLIENT, "OS": _OS, "Platform": "Desktop", "UserAgent": _USER_AGENT}
    if kind is Kind.OPEN:
        opened = {"RecordType": "Open", "FirstOpen": True, "ReadSeconds": 0}
        return {**opened, **reader, "Geo": {}, "ReceivedAt": at, "Recipient": recipient}
    if kind is not Kind.CLICK:
        raise ValueError(f"postmark: no record for {kind}")
    link = first_link(_text(payload, "HtmlBody"))
    clicked = {"RecordType": "Click", "ClickLocation": "HTML", **reader, "OriginalLink": link}
    return {**clicked, "Geo": {}, "ReceivedAt": at, "Recipient": recipient}


def _when(at: float) -> str:
    """Postmark's timestamps: ISO 8601 with a fraction and a zone ("…T15:21:11.906561Z")."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else ""


FORMAT = Format(recipients, build)
