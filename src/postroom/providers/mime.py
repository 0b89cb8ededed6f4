"""RFC 5322 / MIME rendering of an Email, the one builder of the providers that take raw
messages (outbox files, SMTP, SES raw).

`render` builds the message, `wire_bytes` turns it into the bytes that go on the wire: header
values as RFC 2047 encoded words and non-ASCII attachment names as RFC 2231 parameters unless
the transaction is SMTPUTF8 (only when an address needs it), bodies 8-bit or re-encoded to
7-bit. Boundaries derive from the email id, so the same email and Date give the same bytes.
"""

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime
from typing import Any

import idna

from postroom.domain.message import Address, Email
from postroom.ports.provider import Outgoing

_QUOTED_PAIR = re.compile(r"\\(.)")


def ascii_domain(domain: str) -> str:
    """The domain as IDNA 2008 A-labels (what email-validator checked it against): valid in
    every header and envelope, and the only form an SMTP server without SMTPUTF8 or SES takes."""
    return domain if domain.isascii() else idna.encode(domain, uts46=True).decode("ascii")


def envelope_address(email: str) -> str:
    """An address as it goes into an SMTP envelope or a provider's recipient list: the local part
    as validated (quoted if it must be), the domain in A-labels."""
    local, _, domain = email.rpartition("@")
    return f"{local}@{ascii_domain(domain)}"


@dataclass(frozen=True, slots=True)
class Envelope:
    """MAIL FROM and RCPT TO: to + cc + bcc, domains in A-labels."""

    sender: str
    recipients: tuple[str, ...]
    # A non-ASCII local part needs the server's SMTPUTF8 (RFC 6531); domains are A-labels.
    utf8: bool


def envelope(email: Email) -> Envelope:
    """The SMTP envelope of an email; ValueError (idna's) for a domain with no A-label form."""
    sender = envelope_address(email.sender.email)
    recipients = tuple(envelope_address(a.email) for a in email.recipients())
    return Envelope(sender, recipients, not all(a.isascii() for a in (sender, *recipients)))


def wire_bytes(message: EmailMessage, *, utf8: bool, eight_bit: bool) -> bytes:
    """The message as sent: raw UTF-8 headers only in an SMTPUTF8 transaction (encoded words
    and RFC 2231 names otherwise); 8-bit bodies only when the server takes 8BITMIME. CRLF line
    ends; Bcc never appears."""
    policy = SMTPUTF8 if utf8 else SMTP
    if not eight_bit:
        policy = policy.clone(cte_type="7bit")
    out = io.BytesIO()
    BytesGenerator(out, policy=policy).flatten(message)
    return out.getvalue()


def _header_address(address: Address) -> HeaderAddress:
    local, _, domain = address.email.rpartition("@")
    # HeaderAddress quotes the local part itself when it needs quoting; given the quoted form
    # it would quote the quotes ("\"john doe\""@...).
    if len(local) >= 2 and local[0] == local[-1] == '"':
        local = _QUOTED_PAIR.sub(r"\1", local[1:-1])
    return HeaderAddress(display_name=address.name, username=local, domain=ascii_domain(domain))


def render(outgoing: Outgoing, now: float) -> EmailMessage:
    """The message as it goes on the wire. Bcc is left out: it lives in the envelope only."""
    email = outgoing.email
    message = EmailMessage(policy=SMTPUTF8)
    message["From"] = _header_address(email.sender)
    message["To"] = [_header_address(a) for a in email.to]
    if email.cc:
        message["Cc"] = [_header_address(a) for a in email.cc]
    if email.reply_to:
        message["Reply-To"] = [_header_address(a) for a in email.reply_to]
    message["Subject"] = email.subject
    # "+0000", not formatdate's "-0000", which RFC 5322 reserves for "local time unknown".
    message["Date"] = format_datetime(datetime.fromtimestamp(now, UTC))
    message["Message-ID"] = outgoing.message_id
    for name, value in email.headers:
        message[name] = value
    _set_body(message, email)
    _fix_boundaries(message, outgoing.id)
    return message


def _fix_boundaries(message: EmailMessage, email_id: str) -> None:
    # The email package picks random boundaries when flattening; fixed ones make the outbox
    # file and the SMTP DATA byte for byte the same. "=_" never occurs in base64 or
    # quoted-printable text.
    parts = (part for part in message.walk() if part.is_multipart())
    for n, part in enumerate(parts):
        part.set_boundary(f"=_{email_id.replace('-', '')}_{n}")


def _set_body(message: EmailMessage, email: Email) -> None:
    # An HTML-only email arrives here with a generated text part (services/deliver.py); a
    # caller that skipped that gets a lone text/html part, never an empty text/plain one.
    if email.text or not email.html:
        message.set_content(email.text)
        if email.html:
            message.add_alternative(email.html, subtype="html")
    else:
        message.set_content(email.html, subtype="html")
    inline = [a for a in email.attachments if a.content_id]
    if inline and email.html:
        html_part = message.get_payload()[-1] if message.is_multipart() else message  # type: ignore[index]
        assert isinstance(html_part, EmailMessage)
        for attachment in inline:
            _attach(
                html_part,
                attachment.content,
                attachment.content_type,
                attachment.filename,
                inline_cid=attachment.content_id,
                related=True,
            )
    for attachment in email.attachments:
        if attachment.content_id and email.html:
            continue
        # Without HTML to sit next to, an inline part still keeps its Content-ID.
        _attach(
            message,
            attachment.content,
            attachment.content_type,
            attachment.filename,
            inline_cid=attachment.content_id,
        )


def _attach(
    part: EmailMessage,
    content: bytes,
    content_type: str,
    filename: str,
    inline_cid: str = "",
    related: bool = False,
) -> None:
    maintype, _, subtype = content_type.partition("/")
    inline: dict[str, Any] = (
        {"cid": f"<{inline_cid}>", "disposition": "inline"} if inline_cid else {}
    )
    add = part.add_related if related else part.add_attachment
    add(content, maintype=maintype, subtype=subtype, filename=filename, **inline)
