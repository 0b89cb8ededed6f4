"""SendGrid's Event Webhook, as SendGrid posts it: a JSON array of events, signed (the Signed
Event Webhook) over the timestamp header and the exact body, which ends in CRLF.

Each event carries the send's `custom_args` as top-level keys (a personalization's own
overriding the message's), so `postroom_id` comes back on every event; `sg_message_id` starts
with the `X-Message-Id` the send answered, then a dot. Field names and values follow the events
in the conformance data (django-anymail's and sendgrid-python's tests, from real SendGrid events).
"""

import json
import secrets
from collections.abc import Sequence
from typing import Any

from postroom.simulator.events import Kind
from postroom.simulator.webhooks.base import Event, Format, Post, first_link
from postroom.simulator.webhooks.settings import WebhookSettings
from postroom.simulator.webhooks.signing import sendgrid_signature

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

# Kind → the fields that tell it apart, as SendGrid writes them. A bounce of `type` "blocked"
# is SendGrid's temporary kind (its Blocks list), "bounce" the permanent one.
_KINDS: dict[Kind, dict[str, Any]] = {
    Kind.DELIVERED: {"event": "delivered", "response": "250 2.0.0 OK", "tls": 1},
    Kind.HARD_BOUNCE: {
        "event": "bounce",
        "type": "bounce",
        "status": "5.1.1",
        "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
        "tls": 1,
    },
    Kind.SOFT_BOUNCE: {
        "event": "bounce",
        "type": "blocked",
        "status": "4.2.2",
        "reason": "452 4.2.2 The email account that you tried to reach is over quota.",
        "tls": 1,
    },
    Kind.DEFERRED: {
        "event": "deferred",
        "response": "421 4.7.0 Try again later, closing connection.",
        "attempt": "1",
        "tls": 1,
    },
    Kind.COMPLAINT: {"event": "spamreport"},
    Kind.UNSUBSCRIBE: {"event": "unsubscribe"},
    Kind.OPEN: {"event": "open", "useragent": _USER_AGENT, "sg_machine_open": False},
    Kind.CLICK: {"event": "click", "useragent": _USER_AGENT},
    # A drop reason SendGrid documents that is none of its suppression lists (those are
    # "Bounced Address", "Unsubscribed Address", "Spam Reporting Address", "Invalid").
    Kind.REJECT: {"event": "dropped", "reason": "Spam Content"},
}


def recipients(payload: dict[str, Any]) -> list[str]:
    """Every `to`, `cc` and `bcc` address of every personalization, in order."""
    return [
        email
        for personalization in _personalizations(payload)
        for email in _emails(personalization)
    ]


def build(
    message_id: str, payload: dict[str, Any], events: Sequence[Event], settings: WebhookSettings
) -> list[Post]:
    """One request for the whole step: SendGrid batches the events of a moment into one POST."""
    everyone = recipients(payload)
    items = [event_object(message_id, payload, event, everyone) for event in events]
    # SendGrid's body ends with CRLF, and the signature covers it.
    body = json.dumps(items).encode() + b"\r\n"
    timestamp = str(int(events[0].at))
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sendgrid_signature(settings.sendgrid_key, timestamp, body),
        TIMESTAMP_HEADER: timestamp,
    }
    return [Post(body, headers, tuple(events))]


def event_object(
    message_id: str, payload: dict[str, Any], event: Event, everyone: Sequence[str]
) -> dict[str, Any]:
    """One event of the array for `event` of the email SendGrid answered with `message_id`;
    `everyone` is the email's recipients in order (each has a message id of its own)."""
    position = everyone.index(event.recipient) if event.recipient in everyone else 0
    fields: dict[str, Any] = {
        "email": event.recipient,
        "timestamp": int(event.at),
        "smtp-id": _smtp_id(message_id, payload),
        "sg_event_id": secrets.token_urlsafe(16),
        "sg_message_id": f"{message_id}.filterdrecv-simulator-{position}.0",
        **_KINDS[event.kind],
    }
    if event.kind in (Kind.DELIVERED, Kind.HARD_BOUNCE, Kind.SOFT_BOUNCE, Kind.OPEN, Kind.CLICK):
        # The sending IP for a delivery attempt, the reader's for an open or a click.
        fields["ip"] = "127.0.0.1"
    if event.kind is Kind.CLICK:
        fields["url"] = first_link(_html(payload))
        fields["url_offset"] = {"index": 0, "type": "html"}
    if payload.get("categories"):
        fields["category"] = list(payload["categories"])
    # Custom args sit beside SendGrid's own fields; SendGrid's win where a name is both.
    args = _custom_args(payload, event.recipient)
    return fields | {name: value for name, value in args.items() if name not in fields}


def _personalizations(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in payload.get("personalizations") or [] if isinstance(p, dict)]


def _emails(personalization: dict[str, Any]) -> list[str]:
    return [
        str(r["email"])
        for kind in ("to", "cc", "bcc")
        for r in personalization.get(kind) or []
        if isinstance(r, dict) and r.get("email")
    ]


def _custom_args(payload: dict[str, Any], recipient: str) -> dict[str, Any]:
    args = dict(payload.get("custom_args") or {})
    for personalization in _personalizations(payload):
        if recipient in _emails(personalization):
            args.update(personalization.get("custom_args") or {})
            break
    return args


def _smtp_id(message_id: str, payload: dict[str, Any]) -> str:
    """The email's Message-ID: the sender's own where it set one, else the one SendGrid
    writes from its message id."""
    headers = payload.get("headers") or {}
    given = next((v for k, v in headers.items() if k.lower() == "message-id"), "")
    return str(given) or f"<{message_id}@simulator.sendgrid.net>"


def _html(payload: dict[str, Any]) -> str:
    parts = payload.get("content") or []
    return next((p.get("value", "") for p in parts if p.get("type") == "text/html"), "")


FORMAT = Format(recipients, build)
