"""SendGrid's v3 Mail Send API: one JSON POST per email, `202 Accepted` with an empty body.

The shape of providers/base.py: build the payload (pure) -> post it (I/O) -> read the reply
(pure). The email id travels as `custom_args.postroom_id`, which SendGrid puts on every event its
webhook posts. Whatever SendGrid would refuse, or could not carry, is refused here as an
UnsupportedError (a PermanentError, code "unsupported") before any request is made, so the
router can try another provider; nothing is silently dropped.

API reference: https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send
Parameter errors: https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors
"""

import base64
import json
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from postroom.domain.errors import MisconfiguredError, ProviderError, UnsupportedError
from postroom.domain.message import Address, Attachment, Email
from postroom.ports.provider import Outgoing, Receipt
from postroom.providers._http import (
    HttpProvider,
    HttpReply,
    accepted_without_id,
    raise_for_status,
)
from postroom.providers.addresses import address_object, ascii_domain, non_ascii_local_part
from postroom.providers.base import DETAIL_CHARS, metadata_with_id
from postroom.providers.urls import HTTP_OPTIONS, parse_url

DEFAULT_BASE_URL = "https://api.sendgrid.com"
SEND_PATH = "/v3/mail/send"
# Read-only: the scopes of the key that asks; 401 for a bad key.
PROBE_PATH = "/v3/scopes"
_URL_SHAPE = "sendgrid://API_KEY"

# Headers SendGrid sets itself; a request carrying one in `headers` is refused with a 400
# (spec: `headers`; errors page: "Header can not be one of the reserved keys"). Message-ID is
# not among them, so the deterministic Message-ID travels as an ordinary header.
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)
# Limits from the spec and the Mail Send overview's "Limitations".
MAX_RECIPIENTS = 1000  # to + cc + bcc, across all personalizations
MAX_REPLY_TO = 1000  # reply_to_list maxItems
MAX_CATEGORIES = 10  # categories maxItems
MAX_CATEGORY_CHARS = 255  # categories[] maxLength
MAX_CUSTOM_ARGS_BYTES = 10_000  # "Total custom_args size may not exceed 10,000 bytes"
MAX_REQUEST_BYTES = 30 * 1024 * 1024  # "The total size of your email ... must be less than 30MB"


class SendgridProvider(HttpProvider[bytes]):
    """Sends through SendGrid; `sendgrid://API_KEY?base_url=...&timeout=...`."""

    name = "sendgrid"

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 15.0,
        name: str = "sendgrid",
    ):
        super().__init__(timeout)
        self.name = name
        self.endpoint = base_url.rstrip("/") + SEND_PATH
        self.probe_url = base_url.rstrip("/") + PROBE_PATH
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    def __repr__(self) -> str:
        return f"SendgridProvider({self.endpoint!r}, api_key=***)"

    @classmethod
    def from_url(cls, url: str) -> "SendgridProvider":
        """`sendgrid://API_KEY`, options `base_url` (e.g. https://api.eu.sendgrid.com for EU
        subusers) and `timeout` (seconds). ValueError messages never contain the key."""
        parts = parse_url(url, "sendgrid", HTTP_OPTIONS)
        return cls(
            parts.token(_URL_SHAPE),
            parts.base_url(DEFAULT_BASE_URL),
            parts.timeout(),
            parts.provider_name,
        )

    def build(self, outgoing: Outgoing, now: float) -> bytes:
        return encode(build_payload(outgoing))

    def send_headers(self) -> dict[str, str]:
        return self._headers

    def parse(self, answer: HttpReply) -> Receipt:
        return parse_reply(answer, self.name)

    def check_probe(self, reply: HttpReply) -> None:
        """A key without the mail.send scope is misconfigured too."""
        raise_for_status(reply)
        if b'"mail.send"' not in reply.body:
            raise MisconfiguredError("scope", "the API key lacks the mail.send scope")


# -- build (pure) ---------------------------------------------------------------------------


def build_payload(outgoing: Outgoing) -> dict[str, Any]:
    """The v3 Mail Send JSON for one email; UnsupportedError listing every part SendGrid
    cannot carry."""
    email = outgoing.email
    metadata = metadata_with_id(outgoing)
    problems = list(unsupported(email, metadata))
    if problems:
        raise UnsupportedError("sendgrid: " + "; ".join(problems))
    payload: dict[str, Any] = {
        "personalizations": [_personalization(email)],
        "from": address_object(email.sender),
        "subject": email.subject,
        "content": _content(email),
        "headers": _headers(email, outgoing.message_id),
    }
    payload.update(_reply_to(email.reply_to))
    if email.attachments:
        payload["attachments"] = [_attachment(a) for a in email.attachments]
    if email.tags:
        payload["categories"] = _unique(email.tags)
    # The email id in custom_args, which SendGrid copies onto each event of its webhook.
    payload["custom_args"] = dict(metadata)
    return payload


def encode(payload: dict[str, Any]) -> bytes:
    body = msgspec.json.encode(payload)
    if len(body) >= MAX_REQUEST_BYTES:
        # SendGrid answers 413 past this; refusing here saves uploading 30 MB to hear it.
        raise UnsupportedError("sendgrid: the email is 30 MB or more once encoded")
    return body


def _personalization(email: Email) -> dict[str, Any]:
    # One envelope for everyone: recipients live only inside personalizations[], and one
    # personalization gives one email with every recipient visible as in the domain model.
    envelope: dict[str, Any] = {"to": [address_object(a) for a in email.to]}
    if email.cc:
        envelope["cc"] = [address_object(a) for a in email.cc]
    if email.bcc:
        envelope["bcc"] = [address_object(a) for a in email.bcc]
    return envelope


def _content(email: Email) -> list[dict[str, str]]:
    # "text/plain needs to be first, followed by text/html" (RFC 1341 7.2, errors page); empty
    # parts are left out because content[].value has minLength 1.
    parts = [("text/plain", email.text), ("text/html", email.html)]
    return [{"type": kind, "value": value} for kind, value in parts if value]


def _headers(email: Email, message_id: str) -> dict[str, str]:
    # Values are strings (SendGrid refuses numbers here); Message-ID is ours, deterministic,
    # so a resend after a crash carries the same one and threads and dedups downstream.
    headers = dict(email.headers)
    headers["Message-ID"] = message_id
    return headers


def _reply_to(addresses: tuple[Address, ...]) -> dict[str, Any]:
    # reply_to and reply_to_list are mutually exclusive: one address uses the long-standing
    # reply_to, several the newer reply_to_list.
    if not addresses:
        return {}
    if len(addresses) == 1:
        return {"reply_to": address_object(addresses[0])}
    return {"reply_to_list": [address_object(a) for a in addresses]}


def _attachment(attachment: Attachment) -> dict[str, str]:
    item = {
        "content": base64.b64encode(attachment.content).decode("ascii"),
        "type": attachment.content_type,
        "filename": attachment.filename,
    }
    if attachment.content_id:
        # Inline parts are referenced from the HTML as cid:<content_id>. A plain attachment
        # leaves `disposition` out: "attachment" is SendGrid's default.
        item["disposition"] = "inline"
        item["content_id"] = attachment.content_id
    return item


def _unique(items: Iterable[str]) -> list[str]:
    # Categories must be unique; a repeated tag adds nothing, so it is sent once.
    return list(dict.fromkeys(items))


# -- what SendGrid cannot carry (pure) ------------------------------------------------------


def unsupported(email: Email, metadata: tuple[tuple[str, str], ...]) -> Iterator[str]:
    """Why SendGrid would refuse this email, or could not carry part of it; nothing if fine.

    `metadata` is what goes as custom_args: the email's and the correlation id. Reasons name
    fields and limits, never addresses or content: they end up in events."""
    yield from _body_problems(email)
    yield from _recipient_problems(email)
    yield from _address_problems(email)
    yield from _header_problems(email.headers)
    yield from _tag_problems(email.tags)
    yield from _metadata_problems(metadata)
    yield from _attachment_problems(email.attachments)


def _body_problems(email: Email) -> Iterator[str]:
    if not email.subject:
        yield "subject is required (subject has minLength 1)"
    if not email.text and not email.html:
        yield "a text or html body is required (content[].value has minLength 1)"


def _recipient_problems(email: Email) -> Iterator[str]:
    if not email.to:
        yield "at least one to recipient is required"
    if len(email.recipients()) > MAX_RECIPIENTS:
        yield f"at most {MAX_RECIPIENTS} recipients (to + cc + bcc)"
    if _has_duplicate(a.email for a in email.recipients()):
        yield "each address may appear only once across to, cc and bcc"
    if len(email.reply_to) > MAX_REPLY_TO:
        yield f"at most {MAX_REPLY_TO} reply_to addresses"
    if _has_duplicate(a.email for a in email.reply_to):
        yield "each reply_to address must be unique"


def _address_problems(email: Email) -> Iterator[str]:
    fields = {"from": (email.sender,), "to": email.to, "cc": email.cc, "bcc": email.bcc}
    fields["reply_to"] = email.reply_to
    for field, addresses in fields.items():
        for index, address in enumerate(addresses):
            reason = _address_problem(address)
            if reason:
                yield f"{field}[{index}]: {reason}"


def _address_problem(address: Address) -> str:
    if address.email.isascii():  # the common case, decided without splitting
        return ""
    if non_ascii_local_part((address,)):
        return "a non-ASCII local part is not accepted (SMTPUTF8 addresses are not supported)"
    try:
        ascii_domain(address.email.rpartition("@")[2])
    except ProviderError:
        return "the domain has no IDNA form"
    return ""


def _header_problems(headers: tuple[tuple[str, str], ...]) -> Iterator[str]:
    names = [name.lower() for name, _ in headers]
    for name, _ in headers:
        if name.lower() in RESERVED_HEADERS:
            yield f"headers.{name} is reserved by SendGrid"
        elif name.lower() == "message-id":
            yield "headers.Message-ID is set by Postroom from the email id"
    if len(set(names)) < len(names):
        yield "headers must not repeat a name (they travel as one JSON object)"


def _tag_problems(tags: tuple[str, ...]) -> Iterator[str]:
    if len(set(tags)) > MAX_CATEGORIES:
        yield f"at most {MAX_CATEGORIES} tags (SendGrid categories)"
    for index, tag in enumerate(tags):
        if len(tag) > MAX_CATEGORY_CHARS:
            yield f"tags[{index}] is longer than {MAX_CATEGORY_CHARS} characters"
        if not tag.isascii():
            yield f"tags[{index}] must be ASCII (SendGrid categories)"


def _metadata_problems(metadata: tuple[tuple[str, str], ...]) -> Iterator[str]:
    if len({key for key, _ in metadata}) < len(metadata):
        yield "metadata must not repeat a key"
    size = len(msgspec.json.encode(dict(metadata)))
    if size > MAX_CUSTOM_ARGS_BYTES:
        yield f"metadata is {size} bytes as SendGrid custom_args; the limit is 10,000"


def _attachment_problems(attachments: tuple[Attachment, ...]) -> Iterator[str]:
    for index, attachment in enumerate(attachments):
        if not attachment.content:
            yield f"attachments[{index}] is empty (content has minLength 1)"
        if any(c in attachment.filename for c in "\r\n"):
            yield f"attachments[{index}].filename must not contain line breaks"


def _has_duplicate(emails: Iterable[str]) -> bool:
    seen = [email.lower() for email in emails]
    return len(set(seen)) < len(seen)


# -- read the reply (pure) ------------------------------------------------------------------


def parse_reply(reply: HttpReply, provider: str = "sendgrid") -> Receipt:
    """A Receipt for a 2xx, in the name of the configured `provider`; otherwise the
    ProviderError the status means (docs/design.md), with SendGrid's `errors[]` made readable
    as its detail."""
    try:
        raise_for_status(reply)
    except ProviderError as error:
        error.detail = error_detail(reply.body) or error.detail
        raise
    # SendGrid's id for the email; its event webhooks carry it as the start of sg_message_id.
    # Any 2xx counts as sent, also 200 ("valid, but not queued to be delivered", in sandbox
    # mode only per the errors page, which we never ask for) and a reply cut off: resending a
    # sent email through the next provider is the worse mistake.
    message_id = reply.header("x-message-id")
    if not message_id:
        return accepted_without_id(provider, reply)
    return Receipt(provider, message_id, f"http_{reply.status}")


def error_detail(body: bytes) -> str:
    """`{"errors": [{"message", "field", "help"}]}` as "field: message; ...", or "" if the body
    is not that shape."""
    try:
        errors = json.loads(body)["errors"]
        parts = [_error_text(item) for item in errors]
    except (ValueError, TypeError, KeyError, AttributeError):
        return ""
    return "; ".join(p for p in parts if p)[:DETAIL_CHARS]


def _error_text(item: dict[str, Any]) -> str:
    message, field = item.get("message") or "", item.get("field")
    return f"{field}: {message}" if field and field != "null" else str(message)
