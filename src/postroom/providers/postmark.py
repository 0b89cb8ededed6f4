"""Postmark: one JSON POST to `/email` per email (https://postmarkapp.com/developer/api/email-api).

The shape of providers/base.py: `build_payload` (pure) -> one POST (I/O) -> `parse_reply` (pure).
The email id travels as `Metadata.postroom_id`, which Postmark returns in its webhooks. What
Postmark cannot take is refused before any network call with `UnsupportedError`, never silently
dropped.
"""

import base64
from typing import Any

import msgspec

from postroom.domain.errors import (
    MisconfiguredError,
    PermanentError,
    ProviderDownError,
    ProviderError,
    ThrottledError,
    UnsupportedError,
)
from postroom.domain.message import Address, Attachment, Email
from postroom.ports.provider import Outgoing, Receipt
from postroom.providers._http import (
    HttpProvider,
    HttpReply,
    accepted_without_id,
    raise_for_status,
    retry_after,
)
from postroom.providers.addresses import mailbox, non_ascii_local_part
from postroom.providers.base import DETAIL_CHARS, metadata_with_id
from postroom.providers.urls import HTTP_OPTIONS, parse_url

DEFAULT_BASE_URL = "https://api.postmarkapp.com"
# "The maximum number of recipients for each email is 50, including all To, CC, and BCC
# recipients" (https://postmarkapp.com/developer, "Things you should know"; the same in the
# support article on error 300). The API reference's "Max 50" per field is the weaker reading.
MAX_RECIPIENTS = 50
# "Maximum email size is 10 MB. This includes email content, headers, and attachments."
# (https://postmarkapp.com/developer); a bigger request is answered 413.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
# Postmark answers ErrorCode 300 "Invalid metadata content. Field names are limited to 20
# characters..." (seen in django-anymail's tests), and refuses keys that differ only in case
# (https://postmarkapp.com/support/article/1125-custom-metadata-faq).
MAX_METADATA_KEY_CHARS = 20
OPTIONS = HTTP_OPTIONS | {"message_stream"}
_URL_SHAPE = "postmark://SERVER_TOKEN?base_url=...&timeout=...&message_stream=..."

# Postmark's API error codes (https://postmarkapp.com/developer/api/overview#error-codes). The
# HTTP status alone misleads: sender-signature and account problems come back as 422, like a
# bad email, but they are ours to fix in Postmark's console, and another provider can send.
_MISCONFIGURED_CODES = {
    10: "bad or missing server token",
    400: "sender signature not found",
    401: "sender signature not confirmed",
    405: "not allowed to send (account out of credits or disabled)",
    412: "account is pending",
    413: "account may not send",
}
# 300 invalid email request, 402 invalid JSON, 403 incompatible JSON, 406 inactive recipient,
# 409 JSON required, 411 forbidden attachment type: this email, as built, will not go.
_PERMANENT_CODES = frozenset({300, 402, 403, 406, 409, 411})
_THROTTLED_CODES = frozenset({429})
_DOWN_CODES = frozenset({100})  # maintenance


class PostmarkProvider(HttpProvider[bytes]):
    name = "postmark"

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 15.0,
        message_stream: str = "",
        name: str = "postmark",
    ) -> None:
        super().__init__(timeout)
        self.name = name
        self.endpoint = f"{base_url.rstrip('/')}/email"
        # Read-only with the server token: the server's settings; 401 for a bad token.
        self.probe_url = f"{base_url.rstrip('/')}/server"
        self._message_stream = message_stream
        self._send = {
            "X-Postmark-Server-Token": token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._probe = {"X-Postmark-Server-Token": token, "Accept": "application/json"}

    def __repr__(self) -> str:
        return f"PostmarkProvider({self.endpoint!r})"

    @classmethod
    def from_url(cls, url: str) -> "PostmarkProvider":
        """`postmark://SERVER_TOKEN?base_url=...&timeout=...&message_stream=...`.

        ValueError for a malformed URL; its message never contains the token.
        """
        parts = parse_url(url, "postmark", OPTIONS)
        return cls(
            parts.token(_URL_SHAPE),
            base_url=parts.base_url(DEFAULT_BASE_URL),
            timeout=parts.timeout(),
            message_stream=parts.option("message_stream"),
            name=parts.provider_name,
        )

    def build(self, outgoing: Outgoing, now: float) -> bytes:
        return encode(build_payload(outgoing, self._message_stream))

    def send_headers(self) -> dict[str, str]:
        return self._send

    def probe_headers(self) -> dict[str, str]:
        return self._probe

    def parse(self, answer: HttpReply) -> Receipt:
        message_id = parse_reply(answer)
        if not message_id:
            return accepted_without_id(self.name, answer)
        return Receipt(self.name, message_id, f"http_{answer.status}")


# -- payload (pure)


def build_payload(outgoing: Outgoing, message_stream: str = "") -> dict[str, Any]:
    """Postmark's JSON for one email; UnsupportedError for what Postmark refuses."""
    email = outgoing.email
    metadata = metadata_with_id(outgoing)
    check_limits(email, metadata)
    payload: dict[str, Any] = {"From": format_address(email.sender, "From")}
    for field, addresses in (
        ("To", email.to),
        ("Cc", email.cc),
        ("Bcc", email.bcc),
        ("ReplyTo", email.reply_to),
    ):
        _put(payload, field, ", ".join(format_address(a, field) for a in addresses))
    _put(payload, "Subject", email.subject)
    _put(payload, "TextBody", email.text)
    _put(payload, "HtmlBody", email.html)
    payload["Headers"] = _headers(email, outgoing.message_id)
    _put(payload, "Attachments", [_attachment(a) for a in email.attachments])
    _put(payload, "Tag", email.tags[0] if email.tags else "")
    # The email id in Metadata, which Postmark returns in every webhook for the message.
    payload["Metadata"] = dict(metadata)
    _put(payload, "MessageStream", message_stream)
    return payload


def encode(payload: dict[str, Any]) -> bytes:
    """The request body; UnsupportedError above Postmark's 10 MB."""
    body = msgspec.json.encode(payload)
    if len(body) > MAX_REQUEST_BYTES:
        raise _unsupported(f"Postmark takes emails up to 10 MB; this one is {len(body)} bytes")
    return body


def check_limits(email: Email, metadata: tuple[tuple[str, str], ...]) -> None:
    """Refuse, before any network call, what Postmark documents it will not take."""
    count = len(email.recipients())
    if count > MAX_RECIPIENTS:
        raise _unsupported(
            f"Postmark takes at most {MAX_RECIPIENTS} recipients per email (To, Cc and Bcc "
            f"together); this one has {count}"
        )
    if len(email.tags) > 1:
        raise _unsupported(f"Postmark takes one tag per email; this one has {len(email.tags)}")
    if not email.text and not email.html:
        # Support article on error 300: "the message body cannot be empty".
        raise _unsupported("Postmark needs a text or an HTML body")
    _check_metadata(metadata)


def _check_metadata(metadata: tuple[tuple[str, str], ...]) -> None:
    if any(len(key) > MAX_METADATA_KEY_CHARS for key, _ in metadata):
        raise _unsupported(
            f"Postmark metadata keys are at most {MAX_METADATA_KEY_CHARS} characters"
        )
    if len({key.casefold() for key, _ in metadata}) < len(metadata):
        raise _unsupported("Postmark metadata keys must differ by more than letter case")


def format_address(address: Address, field: str) -> str:
    """`Name <local@domain>` as Postmark parses it (providers/addresses.py): the name quoted
    when it has punctuation (support article on error 300), the domain in A-labels."""
    # Postmark "does not support sending from or to Unicode mailboxes" (django-anymail's
    # Postmark notes); its documented mailbox pattern is ASCII only (support article on 300).
    if non_ascii_local_part((address,)):
        raise _unsupported(f"Postmark cannot send to or from a non-ASCII mailbox ({field})")
    try:
        return mailbox(address)
    except PermanentError:
        raise _unsupported(f"a {field} domain has no IDNA (ASCII) form") from None


def _headers(email: Email, message_id: str) -> list[dict[str, str]]:
    # Message-ID is ours, built from the email id, so a resend carries the same one. Whether
    # Postmark keeps it on the wire is not documented; see docs/providers/postmark.md.
    pairs = (("Message-ID", message_id), *email.headers)
    return [{"Name": name, "Value": value} for name, value in pairs]


def _attachment(attachment: Attachment) -> dict[str, str]:
    item = {
        "Name": attachment.filename,
        "Content": base64.b64encode(attachment.content).decode("ascii"),
        "ContentType": attachment.content_type,
    }
    if attachment.content_id:
        # Inline parts: "ContentID": "cid:..." (Postmark's inline image docs).
        item["ContentID"] = f"cid:{attachment.content_id}"
    return item


def _put(payload: dict[str, Any], key: str, value: Any) -> None:
    # Empty fields are left out, so Postmark's own defaults (server settings) apply.
    if value:
        payload[key] = value


def _unsupported(detail: str) -> PermanentError:
    return UnsupportedError(detail)


# -- reply (pure)


def parse_reply(reply: HttpReply) -> str:
    """Postmark's MessageID for an accepted email ("" for a 2xx that is empty, unreadable or
    cut off: sent, id unknown); else raise the ProviderError it means."""
    body = _json_object(reply)
    error_code = body.get("ErrorCode") if body is not None else None
    if 200 <= reply.status < 300:
        return _accepted_id(reply, body, error_code)
    if isinstance(error_code, int):
        error = classify(error_code, _message(body), reply)
        if error is not None:
            raise error
    raise_for_status(reply)
    raise ProviderDownError(f"http_{reply.status}")  # not reached: raise_for_status raised


def _accepted_id(reply: HttpReply, body: dict[str, Any] | None, error_code: Any) -> str:
    message_id = body.get("MessageID") if body is not None else None
    if error_code in (0, None) and isinstance(message_id, str) and message_id:
        # Also "Message OK, but will not deliver to these inactive addresses: ...": the
        # others are sent, so this is a success; Postmark's webhooks report the rest.
        return message_id
    if isinstance(error_code, int) and error_code != 0:
        # A 2xx that carries an error: django-anymail treats it as a failure, and so do we.
        error = classify(error_code, _message(body), reply)
        raise error or ProviderDownError(f"postmark_{error_code}", _message(body))
    # A 2xx we cannot read (empty, garbage, cut off): Postmark said it took the email, and
    # sending it again through the next provider would be the worse mistake.
    return ""


def classify(error_code: int, message: str, reply: HttpReply) -> ProviderError | None:
    """The ProviderError a Postmark ErrorCode means; None for a code we do not know."""
    code = f"postmark_{error_code}"
    if error_code in _MISCONFIGURED_CODES:
        return MisconfiguredError(code, message or _MISCONFIGURED_CODES[error_code])
    if error_code in _PERMANENT_CODES:
        return PermanentError(code, message)
    if error_code in _THROTTLED_CODES:
        return ThrottledError(code, message, retry_after=retry_after(reply.headers))
    if error_code in _DOWN_CODES:
        return ProviderDownError(code, message)
    return None


def _json_object(reply: HttpReply) -> dict[str, Any] | None:
    try:
        body = reply.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _message(body: dict[str, Any] | None) -> str:
    # Postmark's Message echoes addresses: it goes into the email's events, never a log.
    message = body.get("Message") if body is not None else None
    return message[:DETAIL_CHARS] if isinstance(message, str) else ""
