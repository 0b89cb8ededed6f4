"""What both MIME readers (parse.py's email package, mime.py's fast path) map alike: addresses,
custom headers, tags, metadata and names for unnamed parts, into the API's request fields."""

import json
from collections.abc import Callable, Iterable, Sequence
from email.headerregistry import BaseHeader, HeaderRegistry
from typing import Any

from postroom.domain.rules import RESERVED_HEADERS

TAGS_HEADER = "x-postroom-tags"
METADATA_HEADER = "x-postroom-metadata"
# Headers a mail client or relay adds on the way that say nothing to a recipient of ours.
TRANSPORT_HEADERS = frozenset(("x-original-to", "delivered-to", "envelope-to"))


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


# The `email` package's header registry (policy=default), shared by both readers.
REGISTRY = _Registry()


class MessageError(ValueError):
    """The message cannot be read as an email: one line saying why (no message content)."""


def address(name: str, display_name: str, addr_spec: str) -> Any:
    """One address of header `name` as the API takes it: "a@b" or {"email", "name"}."""
    email = utf8(addr_spec)
    if not email or "@" not in email:
        raise MessageError(f"the {name} header holds something that is not an address")
    if display_name:
        return {"email": email, "name": utf8(display_name)}
    return email


def bare(address: Any) -> str:
    return str(address["email"] if isinstance(address, dict) else address)


def put_addresses(
    data: dict[str, Any],
    listed: Callable[[str], list[Any]],
    mail_from: str,
    rcpt_tos: Sequence[str],
) -> None:
    """From, To, Cc, Reply-To and Bcc from the addresses `listed` gives for a header name."""
    senders = listed("From")
    if len(senders) > 1:
        raise MessageError("From names more than one address; give one")
    # A message without From takes the envelope sender, as a relay would stamp it.
    data["from"] = senders[0] if senders else mail_from
    shown: set[str] = set()
    for name, field in (("To", "to"), ("Cc", "cc"), ("Reply-To", "replyTo")):
        found = listed(name)
        if found:
            data[field] = found
            if field != "replyTo":
                shown.update(bare(a).lower() for a in found)
    # Envelope recipients the headers do not show are what Bcc means in SMTP.
    bcc = [r for r in dict.fromkeys(rcpt_tos) if r.lower() not in shown]
    if bcc:
        data["bcc"] = bcc


def is_kept(lowered: str) -> bool:
    """Whether a header (lower-case name) is the client's own: not one the service sets, as a
    relay would replace them, nor one a relay added on the way."""
    return lowered not in RESERVED_HEADERS and lowered not in TRANSPORT_HEADERS


def put_extras(data: dict[str, Any], headers: Iterable[tuple[str, str]]) -> None:
    """Custom headers, tags and metadata from (name, text) pairs of the kept headers."""
    kept: dict[str, str] = {}
    for name, text in headers:
        lowered = name.lower()
        if lowered == TAGS_HEADER:
            data["tags"] = [tag.strip() for tag in text.split(",") if tag.strip()]
        elif lowered == METADATA_HEADER:
            data["metadata"] = metadata(text)
        elif is_kept(lowered):
            kept.setdefault(name, text)
    if kept:
        data["headers"] = kept


def metadata(value: str) -> Any:
    try:
        found = json.loads(value)
    except ValueError:
        raise MessageError('X-Postroom-Metadata must be a JSON object: {"key": "value"}') from None
    if not isinstance(found, dict):
        raise MessageError('X-Postroom-Metadata must be a JSON object: {"key": "value"}')
    return found


def unnamed(index: int, content_type: str) -> str:
    """A name for a part sent without one: the API needs a filename for every attachment."""
    extension = {"message/rfc822": "eml", "text/plain": "txt", "text/html": "html"}
    return f"part-{index + 1}.{extension.get(content_type, 'bin')}"


def utf8(text: str) -> str:
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


def text_of(content: bytes, charset: str) -> str:
    """A text body as the email package's get_content() decodes it (undecodable bytes
    replaced), with line ends as a JSON client sends them (\\n)."""
    try:
        decoded = content.decode(charset, errors="replace")
    except (LookupError, UnicodeError, ValueError):
        raise MessageError("a text part is in an unknown or broken character set") from None
    return decoded.replace("\r\n", "\n")


def message_id(value: str) -> str | None:
    """The idempotency key a Message-ID header value gives, without its angle brackets."""
    bare_id = value.strip().removeprefix("<").removesuffix(">").strip()
    # An idempotency key is 1 to 255 visible ASCII characters, as the API's header is.
    if not bare_id or len(bare_id) > 255 or not all("!" <= c <= "~" for c in bare_id):
        return None
    return bare_id
