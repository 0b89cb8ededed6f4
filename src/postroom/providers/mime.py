"""RFC 5322 / MIME rendering of an Email, for the providers that take raw messages
(outbox files, SMTP, SES raw)."""

import re
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.policy import SMTPUTF8
from email.utils import formatdate
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
    message["Date"] = formatdate(now, localtime=False)
    message["Message-ID"] = outgoing.message_id
    for name, value in email.headers:
        message[name] = value
    _set_body(message, email)
    return message


def _set_body(message: EmailMessage, email: Email) -> None:
    message.set_content(email.text or "")
    if email.html:
        message.add_alternative(email.html, subtype="html")
    inline = [a for a in email.attachments if a.content_id]
    if inline and email.html:
        html_part = message.get_payload()[-1]  # type: ignore[index]
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
