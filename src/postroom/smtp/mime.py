"""The fast path of the MIME reader: the message shapes nearly every client sends, read in a
tenth of the time the `email` package takes (policy=default; it parses every header through its
header registry and compiles a regular expression per boundary).

It reads only what it can read exactly as parse.py's `email` reading would, and answers None
for anything else, which parse.py then reads with the `email` package: a header section that
is not ASCII or has a line that is not a header, bare CR or LF, a Content-Type or
Content-Disposition beyond `type/subtype; name=value` (comments, RFC 2231, encoded words), a
multipart without its closing delimiter or with an empty part, a message/* part, a
multipart/digest, a `start` parameter, a transfer encoding other than 7bit, 8bit, binary,
base64 or quoted-printable, or base64 that is not exact. Header values that are plain text are
taken as they are; addresses and subjects that are not (encoded words, quoted names, groups)
go through the `email` package's header registry, the only part of it used here.
tests/unit/smtp/test_mime.py holds both readers to the same answers.
"""

import base64
import binascii
import quopri
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.headerregistry import UnstructuredHeader
from typing import Any

from postroom.smtp import fields
from postroom.smtp.fields import utf8

# A header line's name: printable ASCII but the colon (RFC 5322 2.2 ftext).
_NAME = re.compile(r"[!-9;-~]+")
# Header text the registry would give back unchanged: printable ASCII, spaces and tabs, no
# encoded word (RFC 2047 "=?").
_PLAIN = re.compile(r"[ \t!-~]*")
# `type/subtype` or a disposition, then `; name=token` or `; name="quoted"` parameters:
# tokens without "*" or "'" (RFC 2231), quoted text without quotes, backslashes or angle brackets
# (the email package unquotes those its own ways).
_WORD = r"[!#$%&+\-.0-9A-Z^_`a-z{|}~]+"
_PARAM = rf'[ \t]*;[ \t]*({_WORD})=({_WORD}|"[ \t!#-;=?-\[\]-~]*")[ \t]*'
_PARAMETERIZED = re.compile(rf"({_WORD}(?:/{_WORD})?)[ \t]*((?:{_PARAM})*)")
_PARAMS = re.compile(_PARAM)
# One mailbox: `addr-spec`, `<addr-spec>` or `Atom Atom <addr-spec>` (RFC 5322 3.4), dot-atoms.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_ADDR_SPEC = rf"{_DOT_ATOM}@{_DOT_ATOM}"
_MAILBOX = re.compile(rf"(?:((?:{_ATOM} )*{_ATOM}) )?<({_ADDR_SPEC})>|({_ADDR_SPEC})")
# A Message-ID the registry gives back unchanged (RFC 5322 3.6.4, without obsolete forms).
_MESSAGE_ID = re.compile(rf"<{_ADDR_SPEC}>")
_ENCODINGS = frozenset(("", "7bit", "8bit", "binary", "base64", "quoted-printable"))
# Nesting past this is left to the email package.
_MAX_DEPTH = 8

_REGISTRY = fields.REGISTRY
# The headers the registry reads as more than text (addresses, dates, MIME parameters).
_STRUCTURED = frozenset(
    name for name, kind in _REGISTRY.registry.items() if not issubclass(kind, UnstructuredHeader)
)


class _NotSimpleError(Exception):
    """Raised inside the fast path: this message is the email package's to read."""


@dataclass(eq=False, slots=True)
class Part:
    headers: list[tuple[str, str]]
    # Lower-case `type/subtype`, and the Content-Type parameters by lower-case name.
    content_type: str
    params: dict[str, str]
    body: bytes
    # The parts of a multipart, in order; None for a part that holds content.
    parts: "list[Part] | None"

    def first(self, name: str) -> str | None:
        """The unfolded value of the first header named `name` (any case)."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)


def parse(
    raw: bytes, mail_from: str, rcpt_tos: Sequence[str]
) -> tuple[dict[str, Any], str | None] | None:
    """(the API's request, the Message-ID key) as parse.py's reading would give them, or None
    when the message is not a shape this reader knows. MessageError as parse.py raises it."""
    # Only CRLF line ends, as SMTP carries them: no bare CR or LF.
    lines = raw.count(b"\r\n")
    if raw.count(b"\r") != lines or raw.count(b"\n") != lines or raw.startswith(b"\r\n"):
        return None
    try:
        return _request(_part(raw, 0), mail_from, rcpt_tos)
    except _NotSimpleError:
        return None


def _part(data: bytes, depth: int) -> Part:
    if depth > _MAX_DEPTH:
        raise _NotSimpleError
    if data.startswith(b"\r\n"):
        block, body = b"", data[2:]
    else:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            raise _NotSimpleError
        block, body = data[: end + 2], data[end + 4 :]
    headers = _headers(block)
    content_type, params = _content_type(headers)
    if content_type.startswith("multipart/"):
        parts = [_part(child, depth + 1) for child in _children(body, params)]
        return Part(headers, content_type, params, b"", parts)
    if content_type.startswith("message/"):
        raise _NotSimpleError  # an attached message travels re-serialised: parse.py's job
    return Part(headers, content_type, params, body, None)


def _headers(block: bytes) -> list[tuple[str, str]]:
    """(name, value) per header, values unfolded as the email package unfolds them: the
    first line's value without its leading blanks, then each continuation line as it is."""
    if not block.isascii():
        raise _NotSimpleError  # raw UTF-8 (RFC 6532) or worse: parse.py checks it
    headers: list[tuple[str, str]] = []
    for line in block.decode("ascii").split("\r\n")[:-1]:
        if line[:1] in (" ", "\t"):
            if not headers:
                raise _NotSimpleError
            name, value = headers[-1]
            headers[-1] = (name, value + line)
            continue
        name, colon, value = line.partition(":")
        if not colon or not _NAME.fullmatch(name):
            raise _NotSimpleError
        headers.append((name, value.lstrip(" \t")))
    return headers


def _content_type(headers: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    value = next((v for k, v in headers if k.lower() == "content-type"), None)
    if value is None:
        return "text/plain", {}
    kind, params = parameterized(value)
    if "/" not in kind:
        raise _NotSimpleError  # the email package reads it as text/plain, with defects
    if kind == "multipart/digest" or "start" in params:
        raise _NotSimpleError  # parts default to message/rfc822; a start part is looked up
    return kind, params


def parameterized(value: str) -> tuple[str, dict[str, str]]:
    """The lower-case type (or disposition) of a simple Content-Type or Content-Disposition
    value, and its parameters unquoted by lower-case name."""
    found = _PARAMETERIZED.fullmatch(value) if "=?" not in value else None
    if found is None:
        raise _NotSimpleError
    params: dict[str, str] = {}
    for name, text in _PARAMS.findall(found.group(2)):
        key = name.lower()
        if key in params:
            raise _NotSimpleError  # the email package takes the first, with defects
        params[key] = text[1:-1] if text.startswith('"') else text
    return found.group(1).lower(), params


def _children(body: bytes, params: dict[str, str]) -> list[bytes]:
    """The parts between a multipart's delimiter lines (RFC 2046 5.1.1): the CRLF before a
    delimiter belongs to it; preamble and epilogue are dropped, as the email package does."""
    boundary = params.get("boundary", "").rstrip()
    if not boundary:
        raise _NotSimpleError
    opened, closed = _delimiters(body, b"--" + boundary.encode("ascii"))
    parts = []
    for (_, start), end in zip(opened, [at for at, _ in opened[1:]] + [closed], strict=True):
        if end - 2 <= start:
            raise _NotSimpleError  # an empty part: rare, and read its own way
        parts.append(body[start : end - 2])
    return parts


def _delimiters(body: bytes, delimiter: bytes) -> tuple[list[tuple[int, int]], int]:
    """(where each delimiter line starts, where its part starts) and where the close
    delimiter starts. A line is a delimiter only as a whole: `--b` or `--b--`, then blanks."""
    opened: list[tuple[int, int]] = []
    at = body.find(delimiter)
    while at >= 0:
        if at == 0 or body[at - 2 : at] == b"\r\n":
            end = body.find(b"\r\n", at)
            rest = body[at + len(delimiter) : len(body) if end < 0 else end].rstrip(b" \t")
            if rest == b"--" and opened:
                return opened, at
            if rest == b"--" or (not rest and end < 0):
                raise _NotSimpleError  # closed before it opened, or cut off
            if not rest:
                opened.append((at, end + 2))
        at = body.find(delimiter, at + 1)
    raise _NotSimpleError  # no close delimiter: the email package reads what it can


def decoded(part: Part) -> bytes:
    """The part's content with its transfer encoding undone, as get_payload(decode=True)."""
    encoding = (part.first("Content-Transfer-Encoding") or "").lower()
    if encoding not in _ENCODINGS:
        raise _NotSimpleError
    if encoding == "quoted-printable":
        return quopri.decodestring(part.body)
    if encoding != "base64":
        return part.body
    joined = b"".join(part.body.splitlines())
    if len(joined) % 4:
        raise _NotSimpleError  # the email package repairs the padding, with defects
    try:
        return base64.b64decode(joined, validate=True)
    except binascii.Error:
        raise _NotSimpleError from None


def text(name: str, value: str) -> str:
    """A header's text as str() of the email package's header object gives it."""
    lowered = name.lower()
    if lowered not in _STRUCTURED and _PLAIN.fullmatch(value) and "=?" not in value:
        return value
    if lowered == "message-id" and _MESSAGE_ID.fullmatch(value) and "=?" not in value:
        return value
    return utf8(str(_REGISTRY(name, value)))


def addresses(part: Part, name: str) -> list[Any]:
    """Every address of every `name` header, as the API's address objects."""
    found: list[Any] = []
    lowered = name.lower()
    for key, value in part.headers:
        if key.lower() == lowered:
            found.extend(fields.address(name, *pair) for pair in _mailboxes(name, value))
    return found


def _mailboxes(name: str, value: str) -> Iterator[tuple[str, str]]:
    """(display name, addr-spec) per mailbox; the header registry for all but the simplest."""
    simple = [_MAILBOX.fullmatch(item.strip(" ")) for item in value.split(",")]
    if "=?" not in value and all(simple):
        for match in simple:
            assert match is not None
            yield match.group(1) or "", match.group(2) or match.group(3)
        return
    header = _REGISTRY(name, value)
    for address in getattr(header, "addresses", ()):
        yield address.display_name, address.addr_spec


def _request(root: Part, mail_from: str, rcpt_tos: Sequence[str]) -> tuple[dict[str, Any], Any]:
    """Mapped in parse.py's order, so that a message refused for two reasons is refused for
    the same one."""
    data: dict[str, Any] = {}
    fields.put_addresses(data, lambda name: addresses(root, name), mail_from, rcpt_tos)
    subject = root.first("Subject")
    if subject is not None:
        data["subject"] = text("Subject", subject)
    _put_bodies(root, data)
    fields.put_extras(data, _extras(root))
    found = root.first("Message-ID")
    return data, fields.message_id(text("Message-ID", found) if found is not None else "")


def _extras(root: Part) -> Iterator[tuple[str, str]]:
    """The text of each header the request may keep; the others are never read."""
    for name, value in root.headers:
        lowered = name.lower()
        if fields.is_kept(lowered) or lowered in (fields.TAGS_HEADER, fields.METADATA_HEADER):
            yield name, text(name, value)


# -- bodies: as EmailMessage.get_body, get_content and get_filename read them


def _put_bodies(root: Part, data: dict[str, Any]) -> None:
    plain, html = _body(root, root, "plain"), _body(root, root, "html")
    if plain is not None:
        data["text"] = _text(plain)
    if html is not None:
        data["html"] = _text(html)
    attachments = [
        _attachment(part, n)
        for n, part in enumerate(_leaves(root))
        if part is not plain and part is not html
    ]
    if attachments:
        data["attachments"] = attachments


def _body(root: Part, part: Part, subtype: str) -> Part | None:
    """The first text/`subtype` part that is not an attachment, looking into each part of a
    multipart but only the first of a multipart/related (EmailMessage._find_body)."""
    if _is_attachment(part):
        return None
    maintype, sub = part.content_type.split("/")
    if maintype == "text":
        return part if sub == subtype else None
    if part.parts is None or root.parts is None:
        return None
    children = part.parts[:1] if sub == "related" else part.parts
    for child in children:
        found = _body(root, child, subtype)
        if found is not None:
            return found
    return None


def _leaves(part: Part) -> list[Part]:
    if part.parts is None:
        return [part]
    return [leaf for child in part.parts for leaf in _leaves(child)]


def _disposition(part: Part) -> tuple[str, dict[str, str]] | None:
    value = part.first("Content-Disposition")
    if value is None:
        return None
    kind, params = parameterized(value)
    if "/" in kind or kind == "filename":
        raise _NotSimpleError  # the email package reads the first word as a parameter too
    return kind, params


def _is_attachment(part: Part) -> bool:
    disposition = _disposition(part)
    return disposition is not None and disposition[0] == "attachment"


def _text(part: Part) -> str:
    return fields.text_of(decoded(part), part.params.get("charset", "ASCII"))


def _attachment(part: Part, index: int) -> dict[str, Any]:
    content = decoded(part)
    found: dict[str, Any] = {
        "filename": utf8(_filename(part) or fields.unnamed(index, part.content_type)),
        "contentType": part.content_type,
        "content": base64.b64encode(content).decode("ascii"),
    }
    content_id = part.first("Content-ID")
    if content_id is not None:
        bare = text("Content-ID", content_id).strip().removeprefix("<").removesuffix(">")
        if bare:
            found["contentId"] = bare
    return found


def _filename(part: Part) -> str | None:
    disposition = _disposition(part)
    if disposition is not None and "filename" in disposition[1]:
        return disposition[1]["filename"].strip()
    name = part.params.get("name")
    return None if name is None else name.strip()
