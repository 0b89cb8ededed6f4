"""JSON Schemas of the request and the answers, for the OpenAPI document.

The request schema states what validation enforces (domain/rules.py, validation.py, address.py)
and, where a rule cannot be written as a schema, something stricter: every request valid against
it is one the API accepts, so a fuzzer driven by it gets 202s. Its descriptions say where the API
accepts more than the schema states (international addresses, longer display names).
"""

from typing import Any

from postroom.api.suppressions import MAX_ENTRIES
from postroom.domain.events import EventType
from postroom.domain.message import Limits
from postroom.domain.rules import RESERVED_HEADERS
from postroom.domain.states import State
from postroom.domain.suppression import ALL_SCOPES, MAX_SCOPE_CHARS, Reason

LIMITS = Limits()

# The states delivery writes (an email's history holds only these).
PRODUCED_STATES = [
    str(state)
    for state in (
        State.QUEUED,
        State.SCHEDULED,
        State.SENDING,
        State.RETRYING,
        State.SENT,
        State.FAILED,
        State.CANCELLED,
        State.SUPPRESSED,
    )
]
# What a sent email's status can become once its recipients' events say more
# (domain/recipients.py email_state): the delivery states of the event vocabulary.
DERIVED_STATES = [
    str(kind)
    for kind in (
        EventType.DEFERRED,
        EventType.DELIVERED,
        EventType.AUTORESPONDED,
        EventType.BOUNCED,
        EventType.REJECTED,
        EventType.COMPLAINED,
        EventType.UNSUBSCRIBED,
    )
]
RECIPIENT_STATES = [str(kind) for kind in EventType]

# Reserved names no provider delivers to (domain/address.py refuses them).
_SPECIAL_USE = ("arpa", "invalid", "localhost", "local", "onion", "test")


def _any_case(word: str) -> str:
    """A pattern matching `word` in any letter case (JSON Schema patterns take no flags)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


_ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
# Dot-atom local part of at most 64 characters; labels without "--" (punycode takes another path).
_LOCAL = f"{_ATEXT}{{1,32}}(?:\\.{_ATEXT}{{1,15}}){{0,2}}"
_LABEL = "[A-Za-z0-9]{1,20}(?:-[A-Za-z0-9]{1,20}){0,2}"
_TLD = f"(?!(?:{'|'.join(_any_case(n) for n in _SPECIAL_USE)})(?:>|$))[A-Za-z]{{2,63}}"
_ADDR_SPEC = f"{_LOCAL}@(?:{_LABEL}\\.){{1,4}}{_TLD}"
_NAME_WORDS = "[A-Za-z0-9]{1,40}(?: [A-Za-z0-9]{1,40}){0,5}"
# One line, and no `=?` that could open an RFC 2047 encoded word hiding a line break.
SINGLE_LINE = "^(?:[^=\\r\\n\\x00]|=+[^=?\\r\\n\\x00])*=*$"
_NO_CONTROL = "^[^\\x00-\\x08\\x0a-\\x1f\\x7f]+$"
_RESERVED = "|".join(_any_case(name) for name in sorted(RESERVED_HEADERS))
RFC3339 = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]{1,9})?"
    "(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_MS_FROM = 10**11  # domain/rules.py: a larger sendAt looks like milliseconds

ADDRESS: dict[str, Any] = {
    "description": "One address: `ann@example.org`, `Ann Lee <ann@example.org>`, or an object "
    "with `email` and `name`. The API also accepts quoted local parts, international addresses "
    "and longer display names (see docs/api.md); this schema describes the plain ASCII forms.",
    "oneOf": [
        {
            "type": "string",
            "minLength": 6,
            "maxLength": 254,
            "pattern": f"^(?:{_ADDR_SPEC}|(?:{_NAME_WORDS} )?<{_ADDR_SPEC}>)$",
            "description": "`addr-spec` or `Display Name <addr-spec>`; at most 254 characters, "
            "local part at most 64; a domain with a dot and no reserved name (.test, .local, "
            ".invalid, .localhost, .onion, .arpa)",
            "examples": ["ann@example.org", "Ann Lee <ann@example.org>"],
        },
        {
            "type": "object",
            "required": ["email"],
            "properties": {
                "email": {
                    "type": "string",
                    "minLength": 6,
                    "maxLength": 254,
                    "pattern": f"^{_ADDR_SPEC}$",
                    "description": "the bare address (`addr-spec`), at most 254 characters",
                    "examples": ["ann@example.org"],
                },
                "name": {
                    "type": "string",
                    "maxLength": LIMITS.max_name_chars,
                    "pattern": SINGLE_LINE,
                    "description": f"display name, one line, at most {LIMITS.max_name_chars} "
                    "characters",
                    "examples": ["Ann Lee"],
                },
            },
            "description": "an address with its display name apart",
            "examples": [{"email": "ann@example.org", "name": "Ann Lee"}],
        },
    ],
}

_REF = {"$ref": "#/components/schemas/Address"}


def _addresses(description: str, min_items: int = 0) -> dict[str, Any]:
    return {
        "description": description,
        "oneOf": [
            _REF,
            {
                "type": "array",
                "items": _REF,
                "minItems": min_items,
                "maxItems": LIMITS.max_recipients,
                "description": "a list of addresses",
            },
        ],
        "examples": [["ann@example.org", "Bob <bob@example.org>"]],
    }


def _text(description: str, example: str, **limits: Any) -> dict[str, Any]:
    return {"type": "string", **limits, "description": description, "examples": [example]}


_SEND_AT = {
    "description": "When to send. Omitted, null or in the past: now. At most "
    f"{LIMITS.max_schedule_seconds // 86400} days ahead (the schema cannot state a limit "
    "relative to the time of the request).",
    "oneOf": [
        {
            "type": "number",
            "exclusiveMaximum": _MS_FROM,
            "description": "Unix time in seconds; a value of 10^11 or more looks like "
            "milliseconds and is refused",
            "examples": [1796119200],
        },
        {
            "type": "string",
            "format": "date-time",
            "pattern": RFC3339,
            "description": "RFC 3339 date-time with `Z` or an offset",
            "examples": ["2026-12-01T10:00:00Z", "2026-12-01T11:00:00+01:00"],
        },
        {"type": "null", "description": "send now"},
    ],
}

_ATTACHMENT = {
    "type": "object",
    "required": ["filename", "content"],
    "description": "a file; with contentId it is an inline part referenced as `cid:`",
    "properties": {
        "filename": _text(
            "file name, one line", "invoice.pdf", minLength=1, maxLength=255, pattern=_NO_CONTROL
        ),
        "contentType": _text(
            "MIME type",
            "application/pdf",
            default="application/octet-stream",
            pattern="^[A-Za-z0-9][A-Za-z0-9_!#$&^.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9_!#$&^.+-]{0,126}$",
        ),
        "content": _text(
            "the file's bytes in standard base64 with padding",
            "aGVsbG8=",
            contentEncoding="base64",
            pattern="^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
        ),
        "contentId": _text(
            "makes the part inline; visible ASCII without < or >",
            "logo",
            minLength=1,
            maxLength=200,
            pattern="^[!-;=?-~]{1,200}$",
        ),
    },
}

EMAIL_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["from", "to"],
    "description": "An email. Unknown fields are ignored (as in the origin API) and named in the "
    "answer's `warnings`. At most 1,000 recipients across to, cc and bcc. `body` and `text` are "
    "the same field: give one.",
    "not": {"required": ["body", "text"]},
    "properties": {
        "from": {**_REF, "description": "the sender"},
        "to": _addresses("recipients, at least one", min_items=1),
        "cc": _addresses("copy recipients"),
        "bcc": _addresses("blind copy recipients"),
        "replyTo": _addresses("where replies go"),
        "subject": _text(
            f"one line, at most {LIMITS.max_subject_chars} characters",
            "Your receipt",
            maxLength=LIMITS.max_subject_chars,
            pattern=SINGLE_LINE,
        ),
        "body": _text("the text part (the origin API's field)", "Thanks for your order."),
        "text": _text("the text part; the same as body", "Thanks for your order."),
        "html": _text("the HTML part", "<p>Thanks for your order.</p>"),
        "sendAt": _SEND_AT,
        "headers": {
            "type": "object",
            "maxProperties": LIMITS.max_headers,
            "description": f"custom headers, at most {LIMITS.max_headers}; headers the service "
            "sets (From, To, Cc, Bcc, Subject, Reply-To, Date, Message-ID, MIME-Version, "
            "Content-*, Sender, Return-Path, Received, DKIM-Signature, Resent-*) are refused",
            "propertyNames": {"pattern": f"^(?!(?:{_RESERVED})$)[!-9;-~]{{1,76}}$"},
            "additionalProperties": _text(
                f"one line, at most {LIMITS.max_header_value_chars} characters",
                "autumn-sale",
                maxLength=LIMITS.max_header_value_chars,
                pattern=SINGLE_LINE,
            ),
            "examples": [{"X-Campaign": "autumn-sale"}],
        },
        "attachments": {
            "type": "array",
            "maxItems": LIMITS.max_attachments,
            "items": _ATTACHMENT,
            "description": f"files, at most {LIMITS.max_attachments}",
        },
        "tags": {
            "type": "array",
            "maxItems": LIMITS.max_tags,
            "items": _text(
                "one line",
                "receipt",
                minLength=1,
                maxLength=LIMITS.max_tag_chars,
                pattern=_NO_CONTROL,
            ),
            "description": f"at most {LIMITS.max_tags}, each at most {LIMITS.max_tag_chars} "
            "characters; passed to providers that support tags",
            "examples": [["receipt"]],
        },
        "metadata": {
            "type": "object",
            "maxProperties": LIMITS.max_metadata,
            "propertyNames": {"minLength": 1, "maxLength": 128, "pattern": _NO_CONTROL},
            "additionalProperties": _text(
                "a string value", "42", maxLength=LIMITS.max_metadata_chars
            ),
            "description": f"your own keys (at most {LIMITS.max_metadata}, each at most 128 "
            f"characters) and string values (at most {LIMITS.max_metadata_chars} characters)",
            "examples": [{"order": "42"}],
        },
    },
}

_ID = {
    "type": "string",
    "format": "uuid",
    "description": "the email's id, a UUIDv7 (ids sort by creation time)",
    "examples": ["019a2237-5c1e-7b3a-9d2f-6a1b2c3d4e5f"],
}
_STATE = {
    "type": "string",
    "enum": PRODUCED_STATES,
    "description": "the email's state",
    "examples": ["queued"],
}
ACCEPTED = {
    "type": "object",
    "required": ["id", "status", "statusUrl"],
    "description": "The email is durably stored.",
    "properties": {
        "id": _ID,
        "status": {
            **_STATE,
            "description": "`queued`, or `scheduled` for a future sendAt (an "
            "Idempotency-Key repeat: the original email's current state)",
        },
        "statusUrl": _text("where to ask for its state", "/api/v1/email/019a2237-..."),
        "warnings": {
            "type": "array",
            "items": {"type": "string"},
            "description": "present only when there is something to say: each unknown field "
            "(ignored), an email with neither subject nor body, suppressed recipients",
            "examples": [["unknown field 'htlm' ignored; did you mean 'html'?"]],
        },
        "suppressed": {
            "type": "array",
            "items": {"type": "string"},
            "description": "present only when the suppression list blocks recipients: their "
            "fields; they will not be sent to",
            "examples": [["to[1]"]],
        },
    },
}

CANCELLED = {
    "type": "object",
    "required": ["id", "status"],
    "description": "The email will not be sent.",
    "properties": {
        "id": _ID,
        "status": {"type": "string", "enum": ["cancelled"], "description": "always `cancelled`"},
    },
}

# -- the suppression list

SUPPRESSION_REASONS = [str(reason) for reason in Reason]

_EXPIRES_AT = {
    "description": "when the entry lapses by itself; omitted or null: never. It must be in the "
    "future (the schema cannot state a limit relative to the time of the request).",
    "oneOf": [
        {
            "type": "string",
            "format": "date-time",
            "pattern": RFC3339,
            "description": "RFC 3339 date-time with `Z` or an offset",
            "examples": ["2027-01-01T00:00:00Z"],
        },
        {"type": "null", "description": "never"},
    ],
}

NEW_SUPPRESSION: dict[str, Any] = {
    "type": "object",
    "required": ["address"],
    "additionalProperties": False,
    "description": "An address the tenant's emails must not be sent to. A field not listed "
    "here is a 400.",
    "properties": {
        "address": {
            "type": "string",
            "minLength": 6,
            "maxLength": 254,
            "pattern": f"^{_ADDR_SPEC}$",
            "description": "the bare address (`addr-spec`), read as a recipient's is and "
            "matched in any letter case. The API also accepts quoted local parts and "
            "international addresses; this schema describes the plain ASCII form.",
            "examples": ["ann@example.org"],
        },
        "reason": {
            "type": "string",
            "enum": SUPPRESSION_REASONS,
            "default": str(Reason.MANUAL),
            "description": "why it is suppressed",
            "examples": ["manual"],
        },
        "scope": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_SCOPE_CHARS,
            "pattern": _NO_CONTROL,
            "default": ALL_SCOPES,
            "description": "`*`: every email of the tenant; else a tag: only emails carrying "
            "that tag (one line)",
            "examples": ["*", "newsletter"],
        },
        "expiresAt": _EXPIRES_AT,
    },
}

SUPPRESSION_REQUEST: dict[str, Any] = {
    "description": f"One entry, or a list of 1 to {MAX_ENTRIES:,}. One invalid entry "
    "refuses the whole request and nothing is stored.",
    "oneOf": [
        {"$ref": "#/components/schemas/NewSuppression"},
        {
            "type": "array",
            "items": {"$ref": "#/components/schemas/NewSuppression"},
            "minItems": 1,
            "maxItems": MAX_ENTRIES,
            "description": "a list of entries",
        },
    ],
}

SUPPRESSIONS_ADDED = {
    "type": "object",
    "required": ["added"],
    "description": "The entries are stored.",
    "properties": {
        "added": {
            "type": "integer",
            "minimum": 0,
            "description": "entries stored or replaced; an entry the list already holds for that "
            "address and scope (and that does not lapse first) adds none",
            "examples": [2],
        },
    },
}

SUPPRESSIONS_REMOVED = {
    "type": "object",
    "required": ["removed"],
    "description": "The entries are gone: the address may be sent to again.",
    "properties": {
        "removed": {
            "type": "integer",
            "minimum": 1,
            "description": "entries removed (one per scope)",
            "examples": [1],
        },
    },
}
