"""From a decoded JSON request to an Email, listing every bad field at once.

Field paths in errors follow the request: `to[2]`, `attachments[0].content`, `headers.X-Id`.
Unknown top-level fields are ignored, as the origin API did; `warnings` names them.
"""

import binascii
import re
from difflib import get_close_matches
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from typing import Any

from postroom.domain.address import AddressError, FullParser, fast_mailbox, parse_address
from postroom.domain.errors import InvalidEmailError
from postroom.domain.message import Address, Attachment, Email, Limits
from postroom.domain.quick import quick_submission
from postroom.domain.rules import (
    CONTROL,
    CORRELATION_KEY,
    HEADER_NAME,
    RESERVED_HEADERS,
    Submission,
    counted,
    schedule,
)

_CONTENT_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]{0,126}/[A-Za-z0-9][\w!#$&^.+-]{0,126}")
_CONTENT_ID = re.compile(r"[!-;=?-~]{1,200}")  # visible ASCII without < and >
_LINE_BREAK = re.compile(r"[\r\n\x00]")


# Every top-level field the API reads; anything else is ignored and named in `warnings`.
FIELDS = frozenset(
    (
        "from",
        "to",
        "cc",
        "bcc",
        "replyTo",
        "subject",
        "body",
        "text",
        "html",
        "sendAt",
        "headers",
        "attachments",
        "tags",
        "metadata",
        # A templated send (docs/templates.md): rendered into subject, html and text first.
        "template",
        "variables",
    )
)
_MAX_WARNINGS = 10


def warnings(data: dict[str, Any]) -> tuple[str, ...]:
    """What an accepted request holds that does nothing: unknown fields (often a misspelt one,
    which is ignored as the origin API did) and an email with neither subject nor body.

    Reads only the decoded request the validator accepted; costs a set difference when there is
    nothing to say."""
    get = data.get
    empty = not get("subject") and not (get("body") or get("text") or get("html"))
    empty = empty and not get("template")
    if not empty and FIELDS.issuperset(data):
        return ()  # the common case: no new set, no list
    found = [_unknown(name) for name in sorted(data.keys() - FIELDS)[:_MAX_WARNINGS]]
    if empty:
        found.append("neither subject nor body: the email is sent empty")
    return tuple(found)


def _unknown(name: str) -> str:
    close = get_close_matches(name, FIELDS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown field {name[:64]!r} ignored{hint}"


class _Errors:
    def __init__(self) -> None:
        self.found: dict[str, str] = {}

    def add(self, path: str, reason: str) -> None:
        self.found.setdefault(path, reason)


def validate_submission(
    data: Any, *, now: float, limits: Limits, full_parser: FullParser
) -> Submission:
    """The Submission a request describes; InvalidEmailError naming every bad field."""
    return quick_submission(data, now, limits) or validate_fully(
        data, now=now, limits=limits, full_parser=full_parser
    )


def validate_fully(data: Any, *, now: float, limits: Limits, full_parser: FullParser) -> Submission:
    """validate_submission without the quick pass: every field through every check."""
    if not isinstance(data, dict):
        raise InvalidEmailError({"body": "must be a JSON object"})
    errors = _Errors()
    check = _Checker(errors, limits, full_parser)
    email = check.email(data)
    send_at = check.send_at(data.get("sendAt"), now)
    if errors.found or email is None:
        raise InvalidEmailError(errors.found)
    return Submission(email, send_at)


class _Checker:
    def __init__(self, errors: _Errors, limits: Limits, full_parser: FullParser) -> None:
        self.errors = errors
        self.limits = limits
        self.full_parser = full_parser

    def email(self, data: dict[str, Any]) -> Email | None:
        sender = self.sender(data.get("from"))
        to = self.address_list("to", data.get("to"), required=True)
        cc = self.address_list("cc", data.get("cc"))
        bcc = self.address_list("bcc", data.get("bcc"))
        reply_to = self.address_list("replyTo", data.get("replyTo"))
        if len(to) + len(cc) + len(bcc) > self.limits.max_recipients:
            self.errors.add(
                "to",
                f"at most {counted(self.limits.max_recipients, 'recipient')} across to, cc, bcc",
            )
        email = Email(
            sender=sender or Address(""),
            to=to,
            cc=cc,
            bcc=bcc,
            reply_to=reply_to,
            subject=self.subject(data.get("subject")),
            text=self.text_part(data),
            html=self.string("html", data.get("html")),
            headers=self.headers(data.get("headers")),
            attachments=self.attachments(data.get("attachments")),
            tags=self.tags(data.get("tags")),
            metadata=self.metadata(data.get("metadata")),
        )
        return email if sender is not None else None

    # -- addresses

    def sender(self, value: Any) -> Address | None:
        if value is None:
            self.errors.add("from", "is required")
            return None
        return self.address("from", value)

    def address_list(self, path: str, value: Any, required: bool = False) -> tuple[Address, ...]:
        if value is None:
            if required:
                self.errors.add(path, "is required")
            return ()
        items = value if type(value) is list else [value]
        if required and not items:
            self.errors.add(path, "needs at least one address")
        if len(items) > self.limits.max_recipients:
            self.errors.add(
                path, f"at most {counted(self.limits.max_recipients, 'address', 'addresses')}"
            )
            return ()
        found = []
        for i, item in enumerate(items):
            # Paths are built only for an error: most lists are all valid.
            address = self.address(path, item, i)
            if address is not None:
                found.append(address)
        return tuple(found)

    def address(self, path: str, value: Any, index: int | None = None) -> Address | None:
        if type(value) is str:
            email = fast_mailbox(value)  # the common case, settled without further calls
            if email is not None:
                return Address(email)
        where = path if index is None else f"{path}[{index}]"
        if isinstance(value, str):
            return self.parsed(where, value)
        if isinstance(value, dict):
            return self.address_object(where, value)
        self.errors.add(where, "must be an address string or an object with email and name")
        return None

    def address_object(self, path: str, value: dict[str, Any]) -> Address | None:
        text, name = value.get("email"), value.get("name", "")
        if not isinstance(text, str):
            self.errors.add(f"{path}.email", "is required and must be a string")
            return None
        parsed = self.parsed(f"{path}.email", text)
        clean_name = self.display_name(f"{path}.name", name)
        if parsed is None or clean_name is None:
            return None
        return Address(parsed.email, clean_name or parsed.name)

    def parsed(self, path: str, text: str) -> Address | None:
        try:
            address = parse_address(text, self.full_parser)
        except AddressError as error:
            self.errors.add(path, f"not a valid email address: {error}")
            return None
        name = self.display_name(path, address.name)
        return None if name is None else Address(address.email, name)

    def display_name(self, path: str, name: Any) -> str | None:
        if name == "":
            return ""
        if not isinstance(name, str):
            self.errors.add(path, "name must be a string")
            return None
        decoded = _decode_words(name)
        if decoded is None or _LINE_BREAK.search(decoded):
            self.errors.add(path, "name must not contain line breaks")
            return None
        if len(decoded) > self.limits.max_name_chars:
            self.errors.add(
                path, f"name longer than {counted(self.limits.max_name_chars, 'character')}"
            )
            return None
        return decoded

    # -- content

    def subject(self, value: Any) -> str:
        subject = self.string("subject", value)
        self.single_line("subject", subject, self.limits.max_subject_chars)
        return subject

    def text_part(self, data: dict[str, Any]) -> str:
        body = self.string("body", data.get("body"))
        text = self.string("text", data.get("text"))
        if body and text and body != text:
            self.errors.add("text", "give the text part as body or as text, not both")
        return text or body

    def string(self, path: str, value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            self.errors.add(path, "must be a string")
            return ""
        return value

    def single_line(self, path: str, value: str, max_chars: int) -> None:
        if len(value) > max_chars:
            self.errors.add(path, f"longer than {counted(max_chars, 'character')}")
        elif _has_line_break(value):
            self.errors.add(path, "must not contain line breaks, raw or encoded")

    def headers(self, value: Any) -> tuple[tuple[str, str], ...]:
        if value is None:
            return ()
        if not isinstance(value, dict):
            self.errors.add("headers", "must be an object of header name to string value")
            return ()
        if len(value) > self.limits.max_headers:
            self.errors.add("headers", f"at most {counted(self.limits.max_headers, 'header')}")
            return ()
        return tuple(pair for pair in (self.header(k, v) for k, v in value.items()) if pair)

    def header(self, name: str, value: Any) -> tuple[str, str] | None:
        path = f"headers.{name}"
        if not HEADER_NAME.fullmatch(name):
            self.errors.add(path, "not a valid header name")
        elif name.lower() in RESERVED_HEADERS:
            self.errors.add(path, "is set by the service; use the matching field instead")
        elif not isinstance(value, str):
            self.errors.add(path, "value must be a string")
        else:
            self.single_line(path, value, self.limits.max_header_value_chars)
            return name, value
        return None

    def attachments(self, value: Any) -> tuple[Attachment, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.errors.add("attachments", "must be a list")
            return ()
        if len(value) > self.limits.max_attachments:
            self.errors.add(
                "attachments", f"at most {counted(self.limits.max_attachments, 'attachment')}"
            )
            return ()
        found = (self.attachment(f"attachments[{i}]", item) for i, item in enumerate(value))
        return tuple(a for a in found if a is not None)

    def attachment(self, path: str, value: Any) -> Attachment | None:
        if not isinstance(value, dict):
            self.errors.add(path, "must be an object with filename, contentType and content")
            return None
        before = len(self.errors.found)
        filename = self.required_line(f"{path}.filename", value.get("filename"), 255)
        content_type = value.get("contentType", "application/octet-stream")
        if not isinstance(content_type, str) or not _CONTENT_TYPE.fullmatch(content_type):
            self.errors.add(f"{path}.contentType", "must be a MIME type such as image/png")
        content = self.base64(f"{path}.content", value.get("content"))
        content_id = value.get("contentId", "")
        if content_id and (
            not isinstance(content_id, str) or not _CONTENT_ID.fullmatch(content_id)
        ):
            self.errors.add(f"{path}.contentId", "must be visible ASCII without < or >")
        if len(self.errors.found) > before:
            return None
        return Attachment(filename, content_type, content, content_id)

    def base64(self, path: str, value: Any) -> bytes:
        if not isinstance(value, str):
            self.errors.add(path, "is required: the file's bytes in base64")
            return b""
        try:
            return binascii.a2b_base64(value, strict_mode=True)
        except (binascii.Error, ValueError):
            self.errors.add(path, "is not valid base64")
            return b""

    def required_line(self, path: str, value: Any, max_chars: int) -> str:
        if not isinstance(value, str) or not value:
            self.errors.add(path, "is required and must be a non-empty string")
            return ""
        if CONTROL.search(value) or len(value) > max_chars:
            self.errors.add(path, f"must be one line of at most {counted(max_chars, 'character')}")
        return value

    def tags(self, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or len(value) > self.limits.max_tags:
            self.errors.add(
                "tags", f"must be a list of at most {counted(self.limits.max_tags, 'string')}"
            )
            return ()
        max_chars = self.limits.max_tag_chars
        return tuple(self.required_line(f"tags[{i}]", t, max_chars) for i, t in enumerate(value))

    def metadata(self, value: Any) -> tuple[tuple[str, str], ...]:
        if value is None:
            return ()
        if not isinstance(value, dict) or len(value) > self.limits.max_metadata:
            self.errors.add(
                "metadata",
                f"must be an object of at most {counted(self.limits.max_metadata, 'key')}",
            )
            return ()
        pairs = []
        for key, item in value.items():
            self.required_line(f"metadata.{key}", key, 128)
            if isinstance(key, str) and key.lower() == CORRELATION_KEY:
                self.errors.add(f"metadata.{key}", "is reserved: Postroom sends its own id here")
            most = self.limits.max_metadata_chars
            if not isinstance(item, str) or len(item) > most:
                self.errors.add(
                    f"metadata.{key}",
                    f"value must be a string of at most {counted(most, 'character')}",
                )
            pairs.append((key, item))
        return tuple(pairs)

    # -- schedule

    def send_at(self, value: Any, now: float) -> float | None:
        send_at, error = schedule(value, now, self.limits)
        if error:
            self.errors.add("sendAt", error)
        return send_at


def _decode_words(text: str) -> str | None:
    """Text with RFC 2047 encoded words decoded; None if they do not decode."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except (HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
        return None


def _has_line_break(value: str) -> bool:
    """CR, LF or NUL, raw or hidden in an encoded word: what header injection needs."""
    if _LINE_BREAK.search(value):
        return True
    decoded = _decode_words(value)
    return decoded is None or _LINE_BREAK.search(decoded) is not None
