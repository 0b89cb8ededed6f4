"""The outbox folder, read back: each `<id>.eml` parsed with the standard library's parser.

The outbox (providers/outbox.py) writes `<id>.json` then `<id>.eml`, each renamed into place
whole, so an `.eml` seen here is complete and its `.json` is beside it. Parsed summaries are
cached by the file's size and modification time: the inbox page polls the list every second,
and a folder of a few thousand emails must not be parsed again each time.
"""

import base64
import contextlib
import json
import mimetypes
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, cast

from postroom.domain.ids import is_id

# The newest emails the list shows; the answer says how many there are in all.
LIST_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Attachment:
    index: int
    filename: str
    content_type: str
    size: int
    content_id: str = ""


@dataclass(frozen=True, slots=True)
class Summary:
    id: str
    sender: str
    to: list[str]
    cc: list[str]
    subject: str
    date: str  # RFC 3339 UTC
    size: int
    attachments: list[Attachment]
    modified_ns: int = 0


@dataclass(frozen=True, slots=True)
class Caught:
    """One email in full: its summary, both bodies, every header, and its envelope."""

    summary: Summary
    text: str | None
    html: str | None
    headers: list[tuple[str, str]]
    envelope: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Download:
    filename: str
    content_type: str
    data: bytes


class OutboxFolder:
    """The emails an `outbox://PATH` provider caught, newest first."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, tuple[tuple[int, int], Summary]] = {}

    def summaries(self) -> tuple[list[Summary], int]:
        """The newest LIST_LIMIT emails, newest first, and how many the folder holds."""
        found: list[Summary] = []
        seen: set[str] = set()
        for path in self._emls():
            email_id = path.stem
            seen.add(email_id)
            summary = self._summary(path)
            if summary is not None:
                found.append(summary)
        for gone in set(self._cache) - seen:
            self._cache.pop(gone, None)
        found.sort(key=lambda s: (s.modified_ns, s.id), reverse=True)
        return found[:LIST_LIMIT], len(found)

    def one(self, email_id: str) -> Caught | None:
        """The email with this id, or None (no such file, or not an id)."""
        read = self._read(email_id)
        if read is None:
            return None
        modified_ns, data = read
        message = _parse(data)
        text, html = _body(message, "plain"), _body(message, "html")
        html_text = _content(html)
        return Caught(
            _summarise(email_id, message, len(data), modified_ns),
            _content(text),
            None if html_text is None else inline_images(html_text, _attachment_parts(message)),
            [(clean(name), clean(str(value))) for name, value in message.items()],
            self._envelope(email_id),
        )

    def raw(self, email_id: str) -> bytes | None:
        """The `.eml` exactly as the outbox wrote it."""
        read = self._read(email_id)
        return None if read is None else read[1]

    def attachment(self, email_id: str, index: int) -> Download | None:
        """The `index`-th attachment (as the list numbers them), decoded."""
        read = self._read(email_id)
        if read is None:
            return None
        parts = _attachment_parts(_parse(read[1]))
        if not 0 <= index < len(parts):
            return None
        part = parts[index]
        described = _describe(index, part)
        return Download(described.filename, _content_type(part), _payload(part))

    def delete_all(self) -> int:
        """Remove every caught email (both files); how many `.eml` files went."""
        removed = 0
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            if is_id(path.stem):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        for path in self._emls():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        self._cache.clear()
        return removed

    def _emls(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return [p for p in self.folder.glob("*.eml") if is_id(p.stem)]

    def _summary(self, path: Path) -> Summary | None:
        try:
            stat = path.stat()
        except FileNotFoundError:  # deleted while listing
            return None
        stamp = (stat.st_size, stat.st_mtime_ns)
        cached = self._cache.get(path.stem)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        summary = _summarise(path.stem, _parse(data), len(data), stat.st_mtime_ns)
        self._cache[path.stem] = (stamp, summary)
        return summary

    def _read(self, email_id: str) -> tuple[int, bytes] | None:
        """The file's modification time and bytes, or None."""
        # Only an id names a file: nothing a caller sends can point outside the folder.
        if not is_id(email_id):
            return None
        path = self.folder / f"{email_id}.eml"
        try:
            with open(path, "rb") as file:
                return os.fstat(file.fileno()).st_mtime_ns, file.read()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def _envelope(self, email_id: str) -> dict[str, Any]:
        try:
            loaded = json.loads((self.folder / f"{email_id}.json").read_bytes())
        except (OSError, ValueError):
            return {}
        return cast(dict[str, Any], loaded) if isinstance(loaded, dict) else {}


def _parse(data: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(data)


def clean(text: str) -> str:
    """Header text as UTF-8: the parser keeps raw 8-bit (SMTPUTF8) bytes as surrogates."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _summarise(email_id: str, message: EmailMessage, size: int, modified_ns: int) -> Summary:
    return Summary(
        id=email_id,
        sender=_header(message, "From"),
        to=_addresses(message, "To"),
        cc=_addresses(message, "Cc"),
        subject=_header(message, "Subject"),
        date=_date(message, modified_ns),
        size=size,
        attachments=[_describe(n, p) for n, p in enumerate(_attachment_parts(message))],
        modified_ns=modified_ns,
    )


def _header(message: Message, name: str) -> str:
    value = message.get(name)
    return "" if value is None else clean(str(value))


def _addresses(message: Message, name: str) -> list[str]:
    value = message.get(name)
    if value is None:
        return []
    addresses = getattr(value, "addresses", None)
    if addresses is None:
        return [clean(str(value))]
    return [clean(str(address)) for address in addresses]


def _date(message: Message, modified_ns: int) -> str:
    """The Date header in UTC; the file's time when it is missing or unreadable."""
    when: datetime | None = None
    with contextlib.suppress(TypeError, ValueError, IndexError):
        raw = message.get("Date")
        when = parsedate_to_datetime(str(raw)) if raw is not None else None
    if when is None or when.tzinfo is None:
        when = datetime.fromtimestamp(modified_ns / 1e9, UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _body(message: EmailMessage, subtype: str) -> MIMEPart | None:
    found = message.get_body(preferencelist=(subtype,))
    return found if found is not None and found.get_content_subtype() == subtype else None


def _content(part: MIMEPart | None) -> str | None:
    if part is None:
        return None
    try:
        text = clean(str(part.get_content()))
    except (LookupError, ValueError):  # an unknown charset: show the bytes as UTF-8
        data = part.get_payload(decode=True)
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else ""
    return text.replace("\r\n", "\n")  # the wire's line ends, as a page shows text


def _attachment_parts(message: EmailMessage) -> list[Message]:
    """Every leaf part but the text and HTML bodies: files, inline images, nested emails."""
    bodies = {id(_body(message, "plain")), id(_body(message, "html"))}
    return [p for p in _leaves(message) if id(p) not in bodies]


def _leaves(part: Message) -> list[Message]:
    """The parts below the multiparts; an attached email (message/rfc822) is one leaf."""
    if part.get_content_maintype() != "multipart":
        return [part]
    payload = part.get_payload()
    children = [c for c in payload if isinstance(c, Message)] if isinstance(payload, list) else []
    return [leaf for child in children for leaf in _leaves(child)]


def _payload(part: Message) -> bytes:
    """A leaf's content, decoded; an attached email as its bytes."""
    if part.get_content_type() == "message/rfc822" and part.is_multipart():
        inner = part.get_payload(0)
        return inner.as_bytes() if isinstance(inner, Message) else b""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


# Inline images (cid:) larger than this stay references: the page would be too heavy.
INLINE_IMAGE_BYTES = 5_000_000


def inline_images(html: str, parts: list[Message]) -> str:
    """Each `cid:` reference to an image part of the email as a data: URL, so that the frame's
    policy (img-src data:, nothing remote) shows it: browsers do not resolve cid: URLs."""
    for part in parts:
        content_id = clean(str(part.get("Content-ID", ""))).strip().strip("<>")
        if not content_id or part.get_content_maintype() != "image":
            continue
        data = _payload(part)
        if f"cid:{content_id}" in html and 0 < len(data) <= INLINE_IMAGE_BYTES:
            url = f"data:{part.get_content_type()};base64,{base64.b64encode(data).decode()}"
            html = html.replace(f"cid:{content_id}", url)
    return html


def _describe(index: int, part: Message) -> Attachment:
    content_id = clean(str(part.get("Content-ID", ""))).strip().strip("<>")
    return Attachment(
        index=index,
        filename=safe_filename(part.get_filename(), part.get_content_type(), index),
        content_type=part.get_content_type(),
        size=len(_payload(part)),
        content_id=content_id,
    )


_CHARSET = re.compile(r"[A-Za-z0-9._-]{1,40}")


def _content_type(part: Message) -> str:
    """The part's own type, with its charset when it names one plainly."""
    charset = part.get_content_charset()
    if charset and _CHARSET.fullmatch(charset) and part.get_content_maintype() == "text":
        return f"{part.get_content_type()}; charset={charset}"
    return part.get_content_type()


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def safe_filename(name: str | None, content_type: str, index: int) -> str:
    """A name to save the file under: no folders, no control or shell-special characters, no
    leading dot, at most 120 characters; `attachment-N.ext` when nothing is left."""
    cleaned = _UNSAFE.sub("_", clean(name or "")).strip(" ._")[:120]
    if cleaned:
        return cleaned
    extension = mimetypes.guess_extension(content_type) or ".bin"
    return f"attachment-{index + 1}{extension}"
