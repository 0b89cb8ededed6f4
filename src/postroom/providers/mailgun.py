"""Mailgun's HTTP send API: `POST /v3/{domain}/messages` as a multipart form.

The shape of providers/base.py: `build_payload` (pure: Email → form fields and files, and every
refusal Mailgun's rules call for, before any network call), the POST (the only I/O),
`parse_response` (pure: Mailgun's reply → Receipt or ProviderError). The email id travels as the
custom variable `v:postroom_id`, which Mailgun's events and webhooks carry back in
`user-variables` ("Attaching Metadata to Messages" on
https://documentation.mailgun.com/docs/mailgun/user-manual/sending-messages/send-attachments).

API reference: https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages
"""

import base64
import re
from dataclasses import dataclass, field
from urllib.parse import quote

import aiohttp

from postroom.domain.errors import UnsupportedError
from postroom.domain.message import Attachment, Email
from postroom.ports.provider import Outgoing, Receipt
from postroom.providers._http import (
    HttpProvider,
    HttpReply,
    accepted_without_id,
    raise_for_status,
)
from postroom.providers.addresses import mailbox, mailbox_list, non_ascii_local_part
from postroom.providers.base import DEFAULT_TIMEOUT, metadata_with_id
from postroom.providers.urls import HTTP_OPTIONS, ProviderUrl, parse_url

REGIONS = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}
OPTIONS = HTTP_OPTIONS | {"region"}
# "A single message may be marked with up to 3 tags. Tags are case insensitive and should be
# ascii only." https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/track-tagging
MAX_TAGS = 3
# "o:, h:, v: options limited to 16 kB in total" (Mailgun's sending API reference).
MAX_OPTION_BYTES = 16 * 1024
_URL_HINT = "expected mailgun://API_KEY@DOMAIN?region=us|eu"
_DOMAIN = re.compile(r"(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")


@dataclass(frozen=True, slots=True)
class MailgunSettings:
    api_key: str = field(repr=False)
    domain: str
    base_url: str
    timeout: float = DEFAULT_TIMEOUT
    name: str = "mailgun"


@dataclass(frozen=True, slots=True)
class FormFile:
    form_field: str  # "attachment" or "inline"
    filename: str
    content_type: str
    content: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class MailgunPayload:
    """The form as Mailgun reads it: repeated names allowed, order kept."""

    fields: tuple[tuple[str, str], ...]
    files: tuple[FormFile, ...] = ()

    def values(self, name: str) -> list[str]:
        """Every value sent under `name`, in order."""
        return [value for key, value in self.fields if key == name]


class MailgunProvider(HttpProvider[MailgunPayload]):
    name = "mailgun"

    def __init__(self, settings: MailgunSettings) -> None:
        super().__init__(settings.timeout)
        self.name = settings.name
        self.domain = settings.domain
        # The domain is checked to be a DNS name, and quoted all the same: a '/' in it would
        # address another endpoint, which Mailgun answers 200 "Mailgun Magnificent API".
        self.endpoint = f"{settings.base_url}/v3/{quote(settings.domain, safe='')}/messages"
        # Read-only and authenticated: 401 for a bad key, 404 for a domain not in the account.
        self.probe_url = f"{settings.base_url}/v4/domains/{quote(settings.domain, safe='')}"
        self._headers = {"Authorization": basic_auth("api", settings.api_key)}

    @classmethod
    def from_url(cls, url: str) -> "MailgunProvider":
        """`mailgun://API_KEY@DOMAIN?region=us|eu&base_url=...&timeout=...`."""
        return cls(parse_settings(url))

    def __repr__(self) -> str:
        return f"MailgunProvider({self.endpoint})"

    def build(self, outgoing: Outgoing, now: float) -> MailgunPayload:
        return build_payload(outgoing)

    def body(self, request: MailgunPayload) -> aiohttp.FormData:
        return to_form(request)

    def send_headers(self) -> dict[str, str]:
        return self._headers

    def parse(self, answer: HttpReply) -> Receipt:
        return parse_response(answer, self.name)


def basic_auth(user: str, password: str) -> str:
    """An Authorization header value; Mailgun wants user "api" and the key as password."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


# -- configuration


def parse_settings(url: str) -> MailgunSettings:
    """The provider URL, checked; a ValueError's text never holds the key."""
    parts = parse_url(url, "mailgun", OPTIONS)
    base_url = parts.base_url() or REGIONS[parts.choice("region", REGIONS, "us")]
    return MailgunSettings(
        _api_key(parts), _domain(parts), base_url, parts.timeout(), parts.provider_name
    )


def _api_key(parts: ProviderUrl) -> str:
    # `api:KEY@` is accepted too: it is how Mailgun's own curl examples write the credential.
    key = parts.password if parts.user == "api" and parts.password else parts.user
    if not key or (parts.password and parts.user != "api"):
        raise ValueError(f"mailgun: missing or misplaced API key; {_URL_HINT}")
    return key


def _domain(parts: ProviderUrl) -> str:
    if not parts.host:
        raise ValueError(f"mailgun: missing sending domain; {_URL_HINT}")
    if parts.path not in ("", "/") or not _DOMAIN.fullmatch(parts.host):
        raise ValueError("mailgun: the sending domain must be a DNS name such as mg.example.com")
    return parts.host


# -- building the request (pure)


def build_payload(outgoing: Outgoing) -> MailgunPayload:
    """The form for one email, or UnsupportedError for what Mailgun cannot take."""
    email = outgoing.email
    _check_supported(email)
    fields = [
        *_addresses(email),
        ("subject", email.subject),
        *_bodies(email),
        *_headers(email, outgoing.message_id),
        *(("o:tag", tag) for tag in email.tags),
        *((f"v:{name}", value) for name, value in metadata_with_id(outgoing)),
    ]
    _check_option_size(fields)
    return MailgunPayload(tuple(fields), tuple(_file(a) for a in email.attachments))


def _check_supported(email: Email) -> None:
    if len(email.tags) > MAX_TAGS:
        raise UnsupportedError(
            f"Mailgun takes at most {MAX_TAGS} tags per email; this one has {len(email.tags)}",
        )
    if not all(tag.isascii() for tag in email.tags):
        raise UnsupportedError("Mailgun takes ASCII tags only")
    # Mailgun answers 400 "Need at least one of 'text', 'html', ..." to a missing, empty or
    # blank body; say so here instead of spending a request on it.
    if not email.text.strip() and not email.html.strip():
        raise UnsupportedError("Mailgun needs a text or HTML body")
    # Mailgun accepts an internationalised local part in From but then writes a From header
    # receivers refuse (anymail refuses it for the same reason): fail loudly, not later.
    if non_ascii_local_part((email.sender,)):
        raise UnsupportedError("Mailgun cannot send from a non-ASCII local part")


def _check_option_size(fields: list[tuple[str, str]]) -> None:
    size = sum(
        len(name.encode()) + len(value.encode())
        for name, value in fields
        if name[:2] in ("o:", "h:", "v:")
    )
    if size > MAX_OPTION_BYTES:
        raise UnsupportedError(
            f"Mailgun takes at most 16 kB of headers, tags and metadata; "
            f"this email has {size} bytes",
        )


def _addresses(email: Email) -> list[tuple[str, str]]:
    # One form value per address (Mailgun repeats fields); empty lists are left out entirely.
    fields = [("from", mailbox(email.sender))]
    for name, addresses in (("to", email.to), ("cc", email.cc), ("bcc", email.bcc)):
        fields.extend((name, mailbox(address)) for address in addresses)
    return fields


def _bodies(email: Email) -> list[tuple[str, str]]:
    return [(name, body) for name, body in (("text", email.text), ("html", email.html)) if body]


def _headers(email: Email, message_id: str) -> list[tuple[str, str]]:
    # Mailgun has no reply-to parameter: it goes as a header, addresses joined with ", ".
    fields = []
    if email.reply_to:
        fields.append(("h:Reply-To", mailbox_list(email.reply_to)))
    # Our deterministic Message-ID, so a resend after a crash carries the same one.
    fields.append(("h:Message-Id", message_id))
    fields.extend((f"h:{name}", value) for name, value in email.headers)
    return fields


def _file(attachment: Attachment) -> FormFile:
    # Mailgun uses an `inline` file's name as its Content-ID, so `cid:<content_id>` in the
    # HTML finds it; the original filename cannot travel with it.
    if attachment.content_id:
        name = attachment.content_id.strip("<>")
        return FormFile("inline", name, attachment.content_type, attachment.content)
    # Mailgun needs a filename on every attachment.
    filename = attachment.filename or "attachment"
    return FormFile("attachment", filename, attachment.content_type, attachment.content)


def to_form(payload: MailgunPayload) -> aiohttp.FormData:
    """A fresh multipart body (a FormData can be sent only once)."""
    # quote_fields=False: field names and filenames go as raw UTF-8, as RFC 7578 section 4.2
    # asks, instead of aiohttp's percent-encoding, which a server shows as literal %XX.
    form = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
    for name, value in payload.fields:
        form.add_field(name, value)
    for file in payload.files:
        form.add_field(
            file.form_field, file.content, filename=file.filename, content_type=file.content_type
        )
    return form


# -- reading the reply (pure)


def parse_response(reply: HttpReply, provider: str = "mailgun") -> Receipt:
    """Mailgun's success: 200 `{"id": "<...>", "message": "Queued. Thank you."}`. Any other
    2xx (empty, unreadable, cut off) is sent with the id unknown: resending it elsewhere
    would be the worse mistake. A wrong base_url that answers 200 (Mailgun serves "Mailgun
    Magnificent API" on a path it does not know) is what `postroom check --providers`
    finds, before anything is sent. `provider` is the configured provider's name."""
    raise_for_status(reply)
    message_id = _queued_id(reply)
    if message_id is None:
        return accepted_without_id(provider, reply)
    return Receipt(provider, message_id, f"http_{reply.status}")


def _queued_id(reply: HttpReply) -> str | None:
    try:
        body = reply.json()
    except ValueError:
        return None
    message_id = body.get("id") if isinstance(body, dict) else None
    return message_id if isinstance(message_id, str) and message_id else None
