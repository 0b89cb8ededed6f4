"""The common request, checked in one flat pass.

Most submissions are plain: ASCII addresses, one-line strings, no attachments. Checking those
through the full validator costs tens of microseconds of Python calls per request, which is most
of intake's CPU. This pass accepts only what the full validator certainly accepts, builds the
same Email, and answers None for anything else, so the full validator still decides, and
explains, every unusual or invalid request. A property test holds the two to that promise.
"""

from dataclasses import dataclass, field
from typing import Any

from postroom.domain.address import quick_address
from postroom.domain.message import Address, Email, Limits
from postroom.domain.rules import (
    CONTROL,
    CORRELATION_KEY,
    HEADER_NAME,
    RESERVED_HEADERS,
    Submission,
    schedule,
)


def _unsure(text: str) -> bool:
    """CR, LF, NUL, or the start of an encoded word that might hide them: the full validator
    decides. Four scans in C: the regex this was, an alternation, was tried at each position
    of the text, about 9,000 instructions an email (callgrind)."""
    return "\n" in text or "\r" in text or "\x00" in text or "=?" in text


@dataclass(slots=True)
class Seen:
    """What the quick pass read in the emails of one batch, kept for that batch, never across
    requests: a batch repeats its sender, its reply-to, often an archive in cc, its header
    names, metadata keys and tags, and an address costs about 2 µs to read (measured)."""

    # What each address read came to, by its text (or (email, name) for the object form).
    addresses: dict[Any, Address | None] = field(default_factory=dict)
    # Those found good only: a bad one is judged again, and the full validator explains it.
    header_names: set[str] = field(default_factory=set)
    metadata_keys: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)


_UNSEEN = object()
# (tenant, template id, template version): what intake sets on the Email (services/submit.py).
Intake = tuple[str, str, int]
_NO_INTAKE: Intake = ("", "", 0)


def quick_submission(
    data: Any,
    now: float,
    limits: Limits,
    seen: Seen | None = None,
    intake: Intake = _NO_INTAKE,
) -> Submission | None:
    """The Submission for a plain request, or None to let the full validator decide. `seen`
    remembers, across the emails of one batch, the addresses read and the header names,
    metadata keys and tags found good; `intake` is set on the Email as it is built, so that
    intake need not build it again."""
    if type(data) is not dict or data.get("attachments"):
        return None
    get = data.get
    sender = _address(get("from"), limits, seen)
    to, cc, bcc = (
        _addresses(get("to"), limits, seen),
        _addresses(get("cc"), limits, seen),
        _addresses(get("bcc"), limits, seen),
    )
    reply_to = _addresses(get("replyTo"), limits, seen)
    if sender is None or not to or cc is None or bcc is None or reply_to is None:
        return None
    if len(to) + len(cc) + len(bcc) > limits.max_recipients:
        return None
    subject, body, text, html = get("subject"), get("body"), get("text"), get("html")
    if not _line(subject, limits.max_subject_chars) or not _texts(body, text, html):
        return None
    headers, tags, metadata = (
        _headers(get("headers"), limits, seen),
        _tags(get("tags"), limits, seen),
        _metadata(get("metadata"), limits, seen),
    )
    asked = get("sendAt")
    send_at, error = (None, "") if asked is None else schedule(asked, now, limits)
    if headers is None or tags is None or metadata is None or error:
        return None
    email = Email(
        sender,
        to,
        cc,
        bcc,
        reply_to,
        subject or "",
        text or body or "",
        html or "",
        headers,
        (),
        tags,
        metadata,
        intake[0],
        intake[1],
        intake[2],
    )
    return Submission(email, send_at)


def _address(value: Any, limits: Limits, seen: Seen | None) -> Address | None:
    if seen is None:
        return _read_address(value, limits)
    key = value if type(value) is str else _seen_key(value)  # the common form first
    if key is None:
        return _read_address(value, limits)
    found = seen.addresses.get(key, _UNSEEN)
    if found is _UNSEEN:
        found = seen.addresses[key] = _read_address(value, limits)
    return found  # type: ignore[return-value]


def _seen_key(value: Any) -> Any:
    """What `seen` knows an address by; None for a form read every time (all refused)."""
    if type(value) is str:
        return value
    if type(value) is dict and type(value.get("email")) is str:
        name = value.get("name", "")
        return (value["email"], name) if type(name) is str else None
    return None


def _read_address(value: Any, limits: Limits) -> Address | None:
    if type(value) is str:
        found = quick_address(value)
        return found if found is not None and _name_ok(found.name, limits) else None
    if type(value) is dict and type(value.get("email")) is str:
        name = value.get("name", "")
        found = quick_address(value["email"])
        if found is None or found.name or type(name) is not str or not _name_ok(name, limits):
            return None
        return Address(found.email, name)
    return None


def _name_ok(name: str, limits: Limits) -> bool:
    return name == "" or (len(name) <= limits.max_name_chars and not _unsure(name))


def _addresses(value: Any, limits: Limits, seen: Seen | None) -> tuple[Address, ...] | None:
    if value is None:
        return ()
    if type(value) is not list:  # one address alone, as replyTo mostly is: no list made
        address = _address(value, limits, seen)
        return None if address is None else (address,)
    if len(value) > limits.max_recipients:
        return None
    # A loop, not `None in tuple(...)`: that compares None with each Address through the
    # dataclass's __eq__, which cost more than reading the address.
    found = []
    for item in value:
        address = _address(item, limits, seen)
        if address is None:
            return None
        found.append(address)
    return tuple(found)


def _line(value: Any, max_chars: int) -> bool:
    return value is None or (type(value) is str and len(value) <= max_chars and not _unsure(value))


def _texts(body: Any, text: Any, html: Any) -> bool:
    # Spelt out: a generator over the three cost more than the checks (measured).
    kinds_ok = _text_kind(body) and _text_kind(text) and _text_kind(html)
    return kinds_ok and not (body and text and body != text)


def _text_kind(value: Any) -> bool:
    return value is None or type(value) is str


def _headers(value: Any, limits: Limits, seen: Seen | None) -> tuple[tuple[str, str], ...] | None:
    if value is None:
        return ()
    if type(value) is not dict or len(value) > limits.max_headers:
        return None
    # A batch's items mostly carry the same header names: each is checked once per batch.
    good = seen.header_names if seen is not None else None
    for name, text in value.items():
        if (good is None or name not in good) and not _header_name_ok(name, good):
            return None
        if type(text) is not str or not _line(text, limits.max_header_value_chars):
            return None
    return tuple(value.items())


def _header_name_ok(name: str, good: set[str] | None) -> bool:
    found = HEADER_NAME.fullmatch(name) is not None and name.lower() not in RESERVED_HEADERS
    if found and good is not None:
        good.add(name)
    return found


def _tags(value: Any, limits: Limits, seen: Seen | None) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if type(value) is not list or len(value) > limits.max_tags:
        return None
    good = seen.tags if seen is not None else None
    for tag in value:
        if type(tag) is not str:
            return None
        if good is not None and tag in good:
            continue
        if not tag or len(tag) > limits.max_tag_chars or CONTROL.search(tag):
            return None
        if good is not None:
            good.add(tag)
    return tuple(value)


def _metadata(value: Any, limits: Limits, seen: Seen | None) -> tuple[tuple[str, str], ...] | None:
    if value is None:
        return ()
    if type(value) is not dict or len(value) > limits.max_metadata:
        return None
    # As header names: a batch's items mostly carry the same metadata keys.
    good = seen.metadata_keys if seen is not None else None
    for key, text in value.items():
        if (good is None or key not in good) and not _metadata_key_ok(key, good):
            return None  # the full pass says what is wrong
        if type(text) is not str or len(text) > limits.max_metadata_chars:
            return None
    return tuple(value.items())


def _metadata_key_ok(key: str, good: set[str] | None) -> bool:
    found = bool(key) and len(key) <= 128 and CONTROL.search(key) is None
    found = found and key.lower() != CORRELATION_KEY
    if found and good is not None:
        good.add(key)
    return found
