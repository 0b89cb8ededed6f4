"""The pure halves of every provider, without any I/O: `build` (an email → the request) and
`parse` (the provider's answer → a Receipt or a ProviderError), and the shared address formatter
and URL parser they use. Opening a provider by URL does no I/O either."""

import dataclasses
import json
import re
from typing import Any

import pytest

from postroom.domain.errors import (
    MisconfiguredError,
    PermanentError,
    ProviderDownError,
    ProviderError,
    ThrottledError,
    UnsupportedError,
)
from postroom.domain.message import Address, Email
from postroom.ports.provider import Outgoing, Receipt
from postroom.providers import open_provider
from postroom.providers._http import HttpReply
from postroom.providers.addresses import address_object, display_name, mailbox
from postroom.providers.base import DETAIL_CHARS, BaseProvider
from postroom.providers.mailgun import MailgunPayload
from postroom.providers.outbox import OutboxFiles
from postroom.providers.ses import SesProvider
from postroom.providers.smtp import SmtpReply, SmtpRequest, by_reply
from postroom.providers.urls import parse_url

URLS = {
    "mailgun": "mailgun://key-1@mg.example.com",
    "sendgrid": "sendgrid://SG.key-1",
    "postmark": "postmark://token-1",
    "ses": "ses://eu-west-1",
    "smtp": "smtp://relay.example.com?tls=none",
    "outbox": "outbox:///nonexistent/outbox",
}
NOW = 1_800_000_000.0


def opened(name: str) -> BaseProvider[Any, Any]:
    provider = open_provider(URLS[name])
    assert isinstance(provider, BaseProvider)
    return provider


def carries_id(name: str, request: Any, email_id: str) -> bool:
    if isinstance(request, MailgunPayload):
        return request.values("v:postroom_id") == [email_id]
    if isinstance(request, bytes):  # SendGrid's or Postmark's JSON
        body = json.loads(request)
        return (body.get("custom_args") or body.get("Metadata"))["postroom_id"] == email_id
    if isinstance(request, SmtpRequest):
        return request.message["X-Postroom-Id"] == email_id
    if isinstance(request, OutboxFiles):
        return f"X-Postroom-Id: {email_id}".encode() in request.message
    tags = {t["Name"]: t["Value"] for t in request["EmailTags"]}
    return tags["postroom_id"] == email_id


@pytest.mark.parametrize("name", URLS)
def test_build_is_pure_and_carries_the_email_id(name: str, full_outgoing: Outgoing) -> None:
    """The same email and time build an equal request, with the email id in it."""
    provider = opened(name)
    first = provider.build(full_outgoing, NOW)
    again = provider.build(full_outgoing, NOW)
    if isinstance(first, SmtpRequest):  # an EmailMessage compares by identity: compare bytes
        assert (first.envelope, first.message.as_bytes()) == (
            again.envelope,
            again.message.as_bytes(),
        )
    else:
        assert again == first
    assert carries_id(name, first, full_outgoing.id)


HTTP_ANSWERS: list[tuple[int, dict[str, str], bytes, type[ProviderError]]] = [
    (400, {}, b'{"message": "bad"}', PermanentError),
    (401, {}, b"Forbidden", MisconfiguredError),
    (404, {}, b"Not Found", MisconfiguredError),
    (429, {"Retry-After": "3"}, b"{}", ThrottledError),
    (503, {}, b"Service Unavailable", ProviderDownError),
]


@pytest.mark.parametrize("name", ["mailgun", "sendgrid", "postmark"])
@pytest.mark.parametrize(("status", "headers", "body", "error"), HTTP_ANSWERS)
def test_http_answers_parse_to_the_error_table(
    name: str, status: int, headers: dict[str, str], body: bytes, error: type[ProviderError]
) -> None:
    """Each HTTP provider reads a status as docs/design.md's table says, Retry-After included."""
    with pytest.raises(error) as raised:
        opened(name).parse(HttpReply(status, headers, body))
    assert type(raised.value) is error
    assert raised.value.retry_after == (3.0 if status == 429 else None)


@pytest.mark.parametrize(
    ("name", "reply", "message_id"),
    [
        ("mailgun", HttpReply(200, {}, b'{"id": "<m1@mg>", "message": "Queued."}'), "<m1@mg>"),
        ("sendgrid", HttpReply(202, {"X-Message-Id": "sg1"}, b""), "sg1"),
        ("postmark", HttpReply(200, {}, b'{"MessageID": "pm1", "ErrorCode": 0}'), "pm1"),
    ],
)
def test_http_acceptance_parses_to_a_receipt(name: str, reply: HttpReply, message_id: str) -> None:
    """A provider's success answer gives the provider's own message id."""
    assert opened(name).parse(reply) == Receipt(name, message_id, f"http_{reply.status}")


def test_error_details_are_cut_to_the_shared_limit() -> None:
    """What a provider says goes into an error's detail, at most DETAIL_CHARS of it."""
    with pytest.raises(PermanentError) as raised:
        opened("mailgun").parse(HttpReply(400, {}, b"x" * 5000))
    assert len(raised.value.detail) == DETAIL_CHARS


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"Error": {"Code": "MessageRejected"}, "ResponseMetadata": {}}, PermanentError),
        ({"Error": {"Code": "Throttling"}, "ResponseMetadata": {}}, ThrottledError),
        ({"Error": {"Code": "X"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, ProviderDownError),
    ],
)
def test_ses_answers_parse_to_the_error_table(
    answer: dict[str, Any], error: type[ProviderError]
) -> None:
    """SES's error answers map by error code, else by status."""
    with pytest.raises(error):
        SesProvider("eu-west-1").parse(answer)


def test_ses_and_smtp_acceptance_parse_to_receipts() -> None:
    """SES's MessageId and SMTP's DATA reply become receipts."""
    ses = SesProvider("eu-west-1").parse({"MessageId": "ses-1"})
    assert ses == Receipt("ses", "ses-1", "http_200")
    smtp = opened("smtp").parse(SmtpReply(250, "<m@x>"))
    assert smtp == Receipt("smtp", "<m@x>", "smtp_250")


@pytest.mark.parametrize("name", ["mailgun", "sendgrid", "postmark"])
@pytest.mark.parametrize(
    "reply",
    [
        HttpReply(200, {}, b""),
        HttpReply(200, {}, b"\xff<html>gateway</html>"),
        HttpReply(200, {"Content-Type": "application/json"}, b"", complete=False),
    ],
    ids=["empty", "garbage", "cut"],
)
def test_an_unreadable_2xx_is_a_receipt_with_the_id_unknown(name: str, reply: HttpReply) -> None:
    """A 200 that is empty, unreadable or cut off is sent, never a failure to fail over on."""
    assert opened(name).parse(reply) == Receipt(name, "", "http_200_id_unknown")


def test_an_ses_answer_without_its_message_id_is_a_receipt() -> None:
    """SES's 200 whose body parsed to nothing is sent, its id unknown."""
    answer = {"ResponseMetadata": {"HTTPStatusCode": 200}}
    assert SesProvider("eu-west-1").parse(answer) == Receipt("ses", "", "http_200_id_unknown")


@pytest.mark.parametrize(
    ("code", "error"),
    [(550, PermanentError), (535, MisconfiguredError), (451, ThrottledError)],
)
def test_smtp_replies_map_to_the_error_table(code: int, error: type[ProviderError]) -> None:
    """SMTP reply codes: 5xx permanent, AUTH refusals misconfigured, 4xx throttled."""
    assert type(by_reply(code, "text")) is error


def test_a_metadata_key_named_like_the_id_is_refused() -> None:
    """metadata `postroom_id` (any case) is refused by the build, before any request."""
    email = _email_with(metadata=(("POSTROOM_ID", "x"),))
    for name in ("mailgun", "sendgrid", "postmark", "ses"):
        with pytest.raises(UnsupportedError):
            opened(name).build(email, NOW)


def _email_with(**fields: Any) -> Outgoing:
    email = Email(Address("a@example.com"), (Address("b@example.com"),), subject="S", text="T")
    email = dataclasses.replace(email, **fields)
    return Outgoing("0190d5a3-5b1e-7c3a-9f00-0123456789ab", email, "<m@example.com>")


# -- the one address formatter


@pytest.mark.parametrize(
    ("name", "phrase"),
    [
        ("Jane Doe", "Jane Doe"),
        ("Zoë Groß", "Zoë Groß"),
        ("Doe, Jane", '"Doe, Jane"'),
        ("J. Doe", '"J. Doe"'),
        ('Joe "JJ" \\', '"Joe \\"JJ\\" \\\\"'),
    ],
)
def test_display_names_are_quoted_only_when_they_must_be(name: str, phrase: str) -> None:
    """A name of atext, spaces and non-ASCII letters goes bare; specials make it quoted."""
    assert display_name(name) == phrase


def test_every_form_puts_idn_domains_in_a_labels() -> None:
    """mailbox and address_object write the domain as A-labels, the name as given."""
    address = Address("leser@bücher.example", "Jürgen")
    assert mailbox(address) == "Jürgen <leser@xn--bcher-kva.example>"
    assert address_object(address) == {"email": "leser@xn--bcher-kva.example", "name": "Jürgen"}
    with pytest.raises(PermanentError):
        mailbox(Address("a@☃.example"))  # U+2603 has no IDNA 2008 form


# -- the one URL parser


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "sendgrid://k?colour=blue",
            "sendgrid: unknown option(s) colour; known: base_url, timeout",
        ),
        ("sendgrid://k?timeout=soon", "sendgrid: timeout must be a number"),
        ("sendgrid://k?timeout=0", "sendgrid: timeout must be positive"),
        ("sendgrid://k?base_url=ftp://x", "sendgrid: base_url must be an http(s) URL"),
        ("mailgun://k@x", "sendgrid: wrong scheme"),
    ],
)
def test_url_options_are_checked_in_one_place(url: str, reason: str) -> None:
    """Unknown options, a bad timeout or base_url: one wording for every provider."""
    with pytest.raises(ValueError, match=re.escape(reason)):
        _read(url)


def _read(url: str) -> None:
    parsed = parse_url(url, "sendgrid", {"base_url", "timeout"})
    parsed.timeout()
    parsed.base_url()
