"""A MIME message as an SMTP client sends it, turned into the JSON request the HTTP API takes.

Pure: the standard library's `email` package (policy=default) and nothing else. The result goes
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
import json
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address as HeaderAddress
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser
from typing import Any

from postroom.domain.rules import RESERVED_HEADERS

TAGS_HEADER = "x-postroom-tags"
METADATA_HEADER = "x-postroom-metadata"
# Headers a mail client or relay adds on the way that say nothing to a recipient of ours.
_TRANSPORT_HEADERS = frozenset(("x-original-to", "delivered-to", "envelope-to"))


class _Registry(HeaderRegistry):
    """HeaderRegistry building each header class once: the standard one makes a new class
    every time a header is read."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        found = self._classes.get(key)
        if found is None:
            found = self._classes[key] = super().__getitem__(name)
        return found


_REGISTRY = _Registry()


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


class MessageError(ValueError):
    """The message cannot be read as an email: one line saying why (no message content)."""


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    # The request as POST /api/v1/email takes it.
    data: dict[str, Any]
    # The client's Message-ID without its angle brackets, or None: the idempotency key.
    message_id: str | None


def parse_message(raw: bytes, mail_from: str, rcpt_tos: Sequence[str]) -> ParsedMessage:
    """The JSON-shaped request for one message received with this envelope; MessageError when
    the bytes cannot be read as one. Validity of what was read is the validator's to judge."""
    try:
        message = _parsed(raw)
    except (TypeError, ValueError, LookupError) as error:
        raise MessageError(f"not a readable MIME message ({type(error).__name__})") from None
    if not isinstance(message, EmailMessage) or not message.keys():
        raise MessageError("the message has no header section")
    data: dict[str, Any] = {}
    _addresses(message, data, mail_from, rcpt_tos)
    subject = message.get("Subject")
    if subject is not None:
        data["subject"] = _utf8(str(subject))
    _bodies(message, data)
    _extras(message, data)
    return ParsedMessage(data, _message_id(message))


# -- addresses


def _addresses(
    message: EmailMessage, data: dict[str, Any], mail_from: str, rcpt_tos: Sequence[str]
) -> None:
    senders = _header_addresses(message, "From")
    if len(senders) > 1:
        raise MessageError("From names more than one address; give one")
    # A message without From takes the envelope sender, as a relay would stamp it.
    data["from"] = senders[0] if senders else mail_from
    listed: set[str] = set()
    for name, field in (("To", "to"), ("Cc", "cc"), ("Reply-To", "replyTo")):
        found = _header_addresses(message, name)
        if found:
            data[field] = found
            if field != "replyTo":
                listed.update(_bare(a).lower() for a in found)
    # Envelope recipients the headers do not show are what Bcc means in SMTP.
    bcc = [r for r in dict.fromkeys(rcpt_tos) if r.lower() not in listed]
    if bcc:
        data["bcc"] = bcc


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
    email = _utf8(address.addr_spec)
    if not email or "@" not in email:
        raise MessageError(f"the {name} header holds something that is not an address")
    if address.display_name:
        return {"email": email, "name": _utf8(address.display_name)}
    return email


def _bare(address: Any) -> str:
    return str(address["email"] if isinstance(address, dict) else address)


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
        "filename": _utf8(part.get_filename() or _unnamed(index, content_type)),
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


def _unnamed(index: int, content_type: str) -> str:
    """A name for a part sent without one: the API needs a filename for every attachment."""
    extension = {"message/rfc822": "eml", "text/plain": "txt", "text/html": "html"}
    return f"part-{index + 1}.{extension.get(content_type, 'bin')}"


# -- headers


def _extras(message: EmailMessage, data: dict[str, Any]) -> None:
    """Custom headers, tags and metadata; headers the service sets itself are left out, as a
    relay would replace them."""
    headers: dict[str, str] = {}
    for name, value in message.items():
        lowered, text = name.lower(), _utf8(str(value))
        if lowered == TAGS_HEADER:
            data["tags"] = [tag.strip() for tag in text.split(",") if tag.strip()]
        elif lowered == METADATA_HEADER:
            data["metadata"] = _metadata(text)
        elif lowered not in RESERVED_HEADERS and lowered not in _TRANSPORT_HEADERS:
            headers.setdefault(name, text)
    if headers:
        data["headers"] = headers


def _metadata(value: str) -> Any:
    try:
        metadata = json.loads(value)
    except ValueError:
        raise MessageError('X-Postroom-Metadata must be a JSON object: {"key": "value"}') from None
    if not isinstance(metadata, dict):
        raise MessageError('X-Postroom-Metadata must be a JSON object: {"key": "value"}')
    return metadata


def _utf8(text: str) -> str:
    """Header text as sent: raw UTF-8 in headers (SMTPUTF8, RFC 6532) reaches the email
    package as escaped bytes; MessageError when those bytes are not UTF-8 at all."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8")
        except UnicodeError:
            raise MessageError("a header holds bytes that are not UTF-8") from None
    return text


def _message_id(message: EmailMessage) -> str | None:
    value = str(message.get("Message-ID", "")).strip()
    bare = value.removeprefix("<").removesuffix(">").strip()
    # An idempotency key is 1 to 255 visible ASCII characters, as the API's header is.
    if not bare or len(bare) > 255 or not all("!" <= c <= "~" for c in bare):
        return None
    return bare
