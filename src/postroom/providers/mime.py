"""RFC 5322 / MIME rendering of an Email, the one builder of the providers that take raw
messages (outbox files, SMTP, SES raw).

`render` builds the message, `wire_bytes` turns it into the bytes that go on the wire: header
values as RFC 2047 encoded words and non-ASCII attachment names as RFC 2231 parameters unless
the transaction is SMTPUTF8 (only when an address needs it), bodies 8-bit or re-encoded to
7-bit. Boundaries derive from the email id, so the same email and Date give the same bytes.
"""

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime
from typing import Any

from postroom.domain.message import Email
from postroom.ports.provider import Outgoing
from postroom.providers.addresses import header_address, non_ascii_local_part, wire_address
from postroom.providers.base import headers_with_id


@dataclass(frozen=True, slots=True)
class Envelope:
    """MAIL FROM and RCPT TO: to + cc + bcc, domains in A-labels."""

    sender: str
    recipients: tuple[str, ...]
    # A non-ASCII local part needs the server's SMTPUTF8 (RFC 6531); domains are A-labels.
    utf8: bool


def envelope(email: Email) -> Envelope:
    """The SMTP envelope of an email; PermanentError for a domain with no A-label form."""
    sender = wire_address(email.sender.email)
    recipients = tuple(wire_address(a.email) for a in email.recipients())
    return Envelope(sender, recipients, non_ascii_local_part((email.sender, *email.recipients())))


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


def render(outgoing: Outgoing, now: float) -> EmailMessage:
    """The message as it goes on the wire, with X-Postroom-Id (providers/base.py). Bcc is
    left out: it lives in the envelope only. PermanentError (or the email package's ValueError)
    for what no message can carry."""
    email = outgoing.email
    message = EmailMessage(policy=SMTPUTF8)
    message["From"] = header_address(email.sender)
    message["To"] = [header_address(a) for a in email.to]
    if email.cc:
        message["Cc"] = [header_address(a) for a in email.cc]
    if email.reply_to:
        message["Reply-To"] = [header_address(a) for a in email.reply_to]
    message["Subject"] = email.subject
    # "+0000", not formatdate's "-0000", which RFC 5322 reserves for "local time unknown".
    message["Date"] = format_datetime(datetime.fromtimestamp(now, UTC))
    message["Message-ID"] = outgoing.message_id
    for name, value in headers_with_id(outgoing):
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
