"""RFC 5322 / MIME rendering of an Email, for the providers that take raw messages
(outbox files, SMTP, SES raw)."""

from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.policy import SMTPUTF8
from email.utils import formatdate

from postroom.domain.message import Address, Email
from postroom.ports.provider import Outgoing


def _header_address(address: Address) -> HeaderAddress:
    local, _, domain = address.email.rpartition("@")
    return HeaderAddress(display_name=address.name, username=local, domain=domain)


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
        _attach(message, attachment.content, attachment.content_type, attachment.filename)


def _attach(
    part: EmailMessage,
    content: bytes,
    content_type: str,
    filename: str,
    inline_cid: str = "",
    related: bool = False,
) -> None:
    maintype, _, subtype = content_type.partition("/")
    if related:
        part.add_related(
            content,
            maintype=maintype,
            subtype=subtype,
            cid=f"<{inline_cid}>",
            filename=filename,
            disposition="inline",
        )
    else:
        part.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
