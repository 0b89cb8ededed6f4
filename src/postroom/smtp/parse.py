"""A MIME message as an SMTP client sends it, turned into the JSON request the HTTP API takes.

Pure: the standard library's `email` package (policy=default) and nothing else. Most messages
never reach it: mime.py's fast path reads the shapes clients send to the same request, ten
times faster, and hands any other message back to the `email` package here. The result goes
through the same validation as a JSON request (domain/validation.py), so this module only maps
one shape to the other and refuses what it cannot map; every limit and address rule is the
validator's.

    From, To, Cc, Reply-To, Subject   the same fields
    envelope recipients not in To/Cc   bcc
    the text/plain and text/html body  text, html
    every other leaf part              attachments (with contentId when it has a Content-ID)
    X-Postroom-Tags: a, b              tags
    X-Postroom-Metadata: {"k": "v"}    metadata (a JSON object)
    any other header not set by the service   headers
"""

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address as HeaderAddress
from email.headerregistry import BaseHeader
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser
from typing import Any

from postroom.smtp import fields, mime
from postroom.smtp.fields import MessageError, utf8

__all__ = ["MessageError", "ParsedMessage", "parse_message", "parse_with_email"]


_REGISTRY = fields.REGISTRY


class _RememberingHeaders:
    """The default policy's header registry, remembering what it parsed for one message. The
    email package parses a header again each time it is read, and reading a message's
    structure reads its Content-Type headers dozens of times: remembering makes parsing about
    three times faster. One per message, so nothing of a message outlives its parse."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], BaseHeader] = {}

    def __call__(self, name: str, value: str) -> BaseHeader:
        found = self._seen.get((name, value))
        if found is None:
            found = self._seen[(name, value)] = _REGISTRY(name, value)
        return found

    def __getitem__(self, name: str) -> type[BaseHeader]:
        return _REGISTRY[name]


def _parsed(raw: bytes) -> Message:
    reading = policy.default.clone(header_factory=_RememberingHeaders())
    return BytesParser(policy=reading).parsebytes(raw)


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    # The request as POST /api/v1/email takes it.
    data: dict[str, Any]
    # The client's Message-ID without its angle brackets, or None: the idempotency key.
    message_id: str | None


def parse_message(raw: bytes, mail_from: str, rcpt_tos: Sequence[str]) -> ParsedMessage:
    """The JSON-shaped request for one message received with this envelope; MessageError when
    the bytes cannot be read as one. Validity of what was read is the validator's to judge."""
    fast = mime.parse(raw, mail_from, rcpt_tos)
    if fast is not None:
        return ParsedMessage(*fast)
    return parse_with_email(raw, mail_from, rcpt_tos)


def parse_with_email(raw: bytes, mail_from: str, rcpt_tos: Sequence[str]) -> ParsedMessage:
    """parse_message with the `email` package alone: any message, ten times slower."""
    try:
        message = _parsed(raw)
    except (TypeError, ValueError, LookupError) as error:
        raise MessageError(f"not a readable MIME message ({type(error).__name__})") from None
    if not isinstance(message, EmailMessage) or not message.keys():
        raise MessageError("the message has no header section")
    data: dict[str, Any] = {}
    fields.put_addresses(data, lambda name: _header_addresses(message, name), mail_from, rcpt_tos)
    subject = message.get("Subject")
    if subject is not None:
        data["subject"] = utf8(str(subject))
    _bodies(message, data)
    # Every header's text is read, as before the fast path: a header that is not UTF-8 is
    # refused even where it is one the service replaces.
    fields.put_extras(data, ((name, utf8(str(value))) for name, value in message.items()))
    return ParsedMessage(data, fields.message_id(str(message.get("Message-ID", ""))))


# -- addresses


def _header_addresses(message: EmailMessage, name: str) -> list[Any]:
    """Every address of every `name` header, as the API's address objects; groups flattened."""
    found: list[Any] = []
    for header in message.get_all(name, []):
        addresses = getattr(header, "addresses", None)
        if addresses is None:
            raise MessageError(f"the {name} header cannot be read as addresses")
        found.extend(_address(name, a) for a in addresses)
    return found


def _address(name: str, address: HeaderAddress) -> Any:
    return fields.address(name, address.display_name, address.addr_spec)


# -- bodies and parts


def _bodies(message: EmailMessage, data: dict[str, Any]) -> None:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    if text is not None:
        data["text"] = _text(text)
    if html is not None:
        data["html"] = _text(html)
    attachments = [
        _attachment(part, n)
        for n, part in enumerate(_leaves(message))
        if part is not text and part is not html
    ]
    if attachments:
        data["attachments"] = attachments


def _leaves(part: Message) -> list[Message]:
    """Every part that holds content, in order; an attached message is one part, not its own
    parts (it travels as the file it is)."""
    if part.get_content_maintype() == "multipart":
        payload = part.get_payload()
        if not isinstance(payload, list):
            raise MessageError("a multipart part holds no parts")
        return [leaf for child in payload if isinstance(child, Message) for leaf in _leaves(child)]
    return [part]


def _text(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError):
        raise MessageError("a text part is in an unknown or broken character set") from None
    if not isinstance(content, str):
        raise MessageError("a text part does not decode to text")
    # What a JSON client sends: line ends as \n (the outgoing message gets CRLF again).
    return content.replace("\r\n", "\n")


def _attachment(part: Message, index: int) -> dict[str, Any]:
    content = _bytes(part)
    content_type = part.get_content_type()
    found: dict[str, Any] = {
        "filename": utf8(part.get_filename() or fields.unnamed(index, content_type)),
        "contentType": content_type,
        "content": base64.b64encode(content).decode("ascii"),
    }
    content_id = str(part.get("Content-ID", "")).strip().removeprefix("<").removesuffix(">")
    if content_id:
        found["contentId"] = content_id
    return found


def _bytes(part: Message) -> bytes:
    if part.get_content_maintype() == "message":
        return bytes(part.get_payload(0).as_bytes(policy=policy.SMTP))  # type: ignore[union-attr]
    content = part.get_payload(decode=True)
    if not isinstance(content, bytes):
        raise MessageError("a part's content cannot be decoded")
    return content
