"""Mailgun's webhooks ("webhooks 2.0"), as Mailgun posts them: one JSON request per event,
`{"signature": {timestamp, token, signature}, "event-data": {...}}`.

`event-data.message.headers.message-id` is the id the send answered, without its angle
brackets; `user-variables` holds every `v:` field of the send, so `v:postroom_id` comes back as
`user-variables.postroom_id`. Each request is signed with a fresh token: Mailgun never reuses one.
Field names and values follow the events in the conformance data (django-anymail's tests, from
real Mailgun events).
"""

import json
import secrets
from collections.abc import Sequence
from typing import Any

from postroom.simulator.events import Kind
from postroom.simulator.webhooks.base import (
    Event,
    Format,
    Post,
    domain_of,
    first_link,
    mailboxes,
)
from postroom.simulator.webhooks.settings import WebhookSettings
from postroom.simulator.webhooks.signing import mailgun_signature

# A temporary failure is a "failed" event with severity "temporary": Mailgun retries it.
_TEMPORARY = {"event": "failed", "severity": "temporary", "reason": "generic", "log-level": "warn"}
_CLIENT = {
    "client-type": "browser",
    "client-os": "Linux",
    "device-type": "desktop",
    "client-name": "Firefox",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
}
_WHERE = {"country": "US", "region": "Unknown", "city": "Unknown"}

# Kind → the fields that tell it apart, as Mailgun writes them.
_KINDS: dict[Kind, dict[str, Any]] = {
    Kind.DELIVERED: {"event": "delivered", "log-level": "info"},
    Kind.HARD_BOUNCE: {
        "event": "failed",
        "severity": "permanent",
        "reason": "bounce",
        "log-level": "error",
    },
    Kind.SOFT_BOUNCE: _TEMPORARY,
    Kind.DEFERRED: _TEMPORARY,
    Kind.COMPLAINT: {"event": "complained", "log-level": "warn"},
    Kind.UNSUBSCRIBE: {"event": "unsubscribed", "log-level": "info"},
    Kind.OPEN: {"event": "opened", "log-level": "info"},
    Kind.CLICK: {"event": "clicked", "log-level": "info"},
    Kind.REJECT: {
        "event": "rejected",
        "log-level": "warn",
        "reject": {"reason": "Rejected by the provider simulator.", "description": ""},
    },
}
# The receiving server's answer, for the events that come from an SMTP conversation.
_STATUS: dict[Kind, dict[str, Any]] = {
    Kind.DELIVERED: {"code": 250, "message": "OK", "description": ""},
    Kind.HARD_BOUNCE: {
        "code": 550,
        "message": "5.1.1 The email account that you tried to reach does not exist.",
        "description": "",
    },
    Kind.SOFT_BOUNCE: {
        "code": 452,
        "message": "4.2.2 The email account that you tried to reach is over quota.",
        "description": "",
        "retry-seconds": 600,
    },
    Kind.DEFERRED: {
        "code": 421,
        "message": "4.7.0 Try again later, closing connection.",
        "description": "",
        "retry-seconds": 60,
    },
}


def recipients(payload: dict[str, Any]) -> list[str]:
    """Every address of `to`, `cc` and `bcc` (each field repeatable, each value a list)."""
    return mailboxes(v for name in ("to", "cc", "bcc") for v in payload.get(name, []))


def build(
    message_id: str, payload: dict[str, Any], events: Sequence[Event], settings: WebhookSettings
) -> list[Post]:
    """One request per event, each signed with its own token."""
    return [
        _signed(event_data(message_id, payload, event), event, settings.mailgun_signing_key)
        for event in events
    ]


def event_data(message_id: str, payload: dict[str, Any], event: Event) -> dict[str, Any]:
    """The `event-data` object Mailgun writes for `event` of the email it answered with
    `message_id`."""
    data: dict[str, Any] = {
        "id": secrets.token_urlsafe(16),
        "timestamp": event.at,
        **_KINDS[event.kind],
        "recipient": event.recipient,
        "recipient-domain": domain_of(event.recipient),
        "tags": list(payload.get("o:tag", [])),
        "campaigns": [],
        "user-variables": _user_variables(payload),
        "message": _message(message_id, payload),
    }
    data.update(_extras(event, payload))
    return data


def _extras(event: Event, payload: dict[str, Any]) -> dict[str, Any]:
    """What only some events carry: the SMTP answer and envelope, or who opened or clicked."""
    if event.kind in _STATUS:
        status = {
            "attempt-no": 1,
            "tls": True,
            "certificate-verified": True,
            "utf8": True,
            "mx-host": "mx.simulator.example.com",
            "session-seconds": 0.1,
        }
        return {
            "envelope": {
                "sender": next(iter(mailboxes([_first(payload, "from")])), ""),
                "targets": event.recipient,
                "transport": "smtp",
                "sending-ip": "127.0.0.1",
            },
            "flags": {
                "is-routed": False,
                "is-authenticated": True,
                "is-system-test": False,
                "is-test-mode": False,
            },
            "delivery-status": {**status, **_STATUS[event.kind]},
        }
    if event.kind is Kind.OPEN:
        return {"ip": "127.0.0.1", "geolocation": _WHERE, "client-info": _CLIENT}
    if event.kind is Kind.CLICK:
        url = first_link(_first(payload, "html"))
        return {"url": url, "ip": "127.0.0.1", "geolocation": _WHERE, "client-info": _CLIENT}
    return {}


def _message(message_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    headers = {
        "to": ", ".join(payload.get("to", [])),
        "message-id": message_id.strip("<>"),
        "from": _first(payload, "from"),
        "subject": _first(payload, "subject"),
    }
    size = sum(len(v.encode()) for name in ("text", "html") for v in payload.get(name, []))
    return {"headers": headers, "attachments": [], "size": size}


def _user_variables(payload: dict[str, Any]) -> dict[str, str]:
    return {name[2:]: values[0] for name, values in payload.items() if name[:2] == "v:" and values}


def _first(payload: dict[str, Any], name: str) -> str:
    return next(iter(payload.get(name, [])), "")


def _signed(data: dict[str, Any], event: Event, key: str) -> Post:
    timestamp, token = str(int(event.at)), secrets.token_hex(25)
    signature = {
        "timestamp": timestamp,
        "token": token,
        "signature": mailgun_signature(key, timestamp, token),
    }
    body = json.dumps({"signature": signature, "event-data": data}).encode()
    return Post(body, {"Content-Type": "application/json"}, (event,))


FORMAT = Format(recipients, build)
