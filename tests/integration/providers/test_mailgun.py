"""MailgunProvider against the provider simulator over real HTTP.

The message → payload examples come from
tests/data/conformance/providers/anymail_examples/mailgun.json (transcribed from django-anymail's
Mailgun tests); each is mapped onto our Email and checked against what the simulator received.
"""

import base64
import hashlib
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from email.utils import parseaddr
from typing import Any

import aiohttp
import pytest

from postroom.domain.errors import (
    MisconfiguredError,
    OutcomeUnknownError,
    PermanentError,
    ProviderDownError,
    ThrottledError,
)
from postroom.domain.message import Address, Attachment, Email
from postroom.ports.provider import Outgoing, Receipt
from postroom.providers import open_provider
from postroom.providers._http import HttpReply
from postroom.providers.mailgun import (
    MailgunProvider,
    basic_auth,
    build_payload,
    parse_response,
)
from tests.conftest import RunningSimulator, conformance
from tests.integration.providers.conftest import PDF, PNG

# Examples left out, and why: their input uses something our Email does not carry.
SKIPPED = {
    "mailgun-10": "amp_html: our Email has no AMP part",
    "mailgun-14": "send_at: our queue holds a scheduled email until its time; providers never "
    "schedule, so o:deliverytime is never sent",
    "mailgun-16": "track_opens / track_clicks: our Email carries no tracking options; the Mailgun "
    "domain's own settings apply",
    "mailgun-17": "template_id: our Email carries no stored-template reference",
    "mailgun-18": "merge_data / recipient-variables: our Email is one message to its recipients, "
    "never a batch send",
    "mailgun-19": "envelope_sender and a sender domain taken from From: our sending domain is the "
    "provider URL's (its '/' case is test_url_domain_must_be_a_dns_name)",
}
# Examples mapped with a difference, and how:
# - mailgun-03: anymail re-cases header names (anymail_specific); we send them as given, so
#   h: names are compared case-insensitively. Message-ID is reserved in our model: the example's
#   value travels as Outgoing.message_id, which is what h:Message-Id carries.
# - mailgun-07: like anymail, we send domains as IDNA A-labels; names and local parts stay UTF-8.
# - mailgun-08 (anymail_specific): we too refuse an EAI From before calling the API.
# - mailgun-11: our validator requires `to`; given an Email without it we leave the field out,
#   and Mailgun (the simulator) refuses it: test_example_11_empty_to_is_left_out_and_refused.
# - mailgun-12: our model holds one parsed sender, so the case is a comma inside a display
#   name, which must be quoted: test_example_12_display_name_comma_is_quoted.
SPECIAL = {"mailgun-11", "mailgun-12"}
DOMAIN = "mg.example.com"
CID = "sample-image@postroom.test"
ANYMAIL = conformance("providers/anymail_examples/mailgun.json")
EXAMPLES = ANYMAIL["examples"]
RESPONSES = ANYMAIL["provider_responses"]


def _examples() -> list[Any]:
    """Every example but the special ones; the skipped ones show as skips with their reason."""
    return [
        pytest.param(
            example,
            id=example["id"],
            marks=[pytest.mark.skip(reason=SKIPPED[example["id"]])]
            if example["id"] in SKIPPED
            else [],
        )
        for example in EXAMPLES
        if example["id"] not in SPECIAL
    ]


# -- helpers: example input → our Email


def _address(text: str) -> Address:
    name, email = parseaddr(text)
    return Address(email, name)


def _addresses(data: dict[str, Any], key: str) -> tuple[Address, ...]:
    return tuple(_address(text) for text in data.get(key, []))


def _attachment(data: dict[str, Any]) -> Attachment:
    content_type = data["mimetype"]
    if "content_text" in data:
        content = data["content_text"].encode(data.get("charset", "utf-8"))
        content_type += f'; charset="{data["charset"]}"' if "charset" in data else ""
    else:
        content = base64.b64decode(data["content_b64"])
    content_id = CID if data.get("inline") else ""
    return Attachment(data["filename"] or "", content_type, content, content_id)


def _email(data: dict[str, Any]) -> Email:
    headers = dict(data.get("headers", {}))
    reply_to = _addresses(data, "reply_to")
    if "Reply-To" in headers:  # a field of its own in our model
        reply_to += (_address(headers.pop("Reply-To")),)
    headers.pop("Message-ID", None)  # reserved in our model: see _message_id
    return Email(
        sender=_address(data["from"]),
        to=_addresses(data, "to"),
        cc=_addresses(data, "cc"),
        bcc=_addresses(data, "bcc"),
        reply_to=reply_to,
        subject=data.get("subject", ""),
        text=data.get("text", ""),
        html=data.get("html", ""),
        headers=tuple(headers.items()),
        attachments=tuple(_attachment(a) for a in data.get("attachments", [])),
        tags=tuple(data.get("tags", [])),
        metadata=tuple(data.get("metadata", {}).items()),
    )


def _outgoing(
    email: Email, message_id: str = "<0190f0e0-0000-7000-8000-00000000000a@pr.test>"
) -> Outgoing:
    return Outgoing("0190f0e0-0000-7000-8000-00000000000a", email, message_id)


def _message_id(data: dict[str, Any]) -> str:
    return str(data.get("headers", {}).get("Message-ID", "<example@postroom.test>"))


def _received(payload: dict[str, list[str]], key: str) -> list[str] | None:
    """A form field as received; h: names match case-insensitively, as header names do."""
    if key in payload:
        return payload[key]
    if key.startswith("h:"):
        for name, values in payload.items():
            if name.lower() == key.lower():
                return values
    return None


def _file_expectation(expected: dict[str, Any]) -> dict[str, Any]:
    content = base64.b64decode(expected["content_b64"])
    return {
        "field": expected["field"],
        "filename": expected["filename"].replace("{cid}", CID),
        "content_type": expected["content_type"],
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


# -- fixtures


@pytest.fixture
async def connect() -> AsyncIterator[Callable[[str], MailgunProvider]]:
    """Providers from URLs, each closed after the test."""
    opened: list[MailgunProvider] = []

    def make(url: str) -> MailgunProvider:
        opened.append(MailgunProvider.from_url(url))
        return opened[-1]

    yield make
    for provider in opened:
        await provider.close()


@pytest.fixture
def mailgun(
    simulator: RunningSimulator, connect: Callable[[str], MailgunProvider]
) -> MailgunProvider:
    """A provider pointed at the simulator, with a short timeout."""
    return connect(f"mailgun://key-test@{DOMAIN}?base_url={simulator.url}&timeout=2")


def simple(**changes: Any) -> Email:
    fields: dict[str, Any] = {
        "sender": Address("from@example.com", "From Name"),
        "to": (Address("to@example.com"),),
        "subject": "Subject",
        "text": "Text Body",
    }
    fields.update(changes)
    return Email(**fields)


def only_accepted(simulator: RunningSimulator) -> dict[str, Any]:
    assert len(simulator.simulator.accepted) == 1
    accepted = simulator.simulator.accepted[0]
    assert accepted.provider == "mailgun"
    return {"payload": accepted.payload, "files": accepted.files, "id": accepted.message_id}


# -- the anymail examples


@pytest.mark.parametrize("example", _examples())
async def test_anymail_example(
    example: dict[str, Any], simulator: RunningSimulator, mailgun: MailgunProvider
) -> None:
    """Each mapped anymail example reaches Mailgun as the example's form fields and files."""
    data, expected = example["input"], example["expected"]
    outgoing = _outgoing(_email(data), _message_id(data))
    if "error" in expected:
        with pytest.raises(PermanentError) as raised:
            await mailgun.send(outgoing)
        assert raised.value.code == "unsupported"
        assert simulator.simulator.requests == 0
        return
    receipt = await mailgun.send(outgoing)
    got = only_accepted(simulator)
    assert receipt == Receipt("mailgun", got["id"], "http_200")
    _check_fields(got["payload"], expected.get("form_fields", {}))
    for key in expected.get("absent_fields", []):
        assert _received(got["payload"], key) is None, key
    # Every send carries the email id as a custom variable, the examples' own v: fields beside it.
    assert got["payload"]["v:postroom_id"] == [outgoing.id]
    for prefix in expected.get("no_fields_with_prefix", []):
        found = [k for k in got["payload"] if k.startswith(prefix) and k != "v:postroom_id"]
        assert not found, prefix
    if "files" in expected:
        assert got["files"] == [_file_expectation(f) for f in expected["files"]]


def _check_fields(payload: dict[str, list[str]], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        values = value if isinstance(value, list) else [value]
        received = _received(payload, key)
        assert received is not None, key
        assert received == values, key


def test_every_example_is_run_or_named_as_skipped() -> None:
    """No anymail example is silently left out: each runs, is special-cased or has a reason."""
    ids = {e["id"] for e in EXAMPLES}
    assert set(SKIPPED) | SPECIAL <= ids
    assert all("input" in e for e in EXAMPLES if e["id"] not in SKIPPED)


async def test_example_11_empty_to_is_left_out_and_refused(
    simulator: RunningSimulator, mailgun: MailgunProvider
) -> None:
    """An Email without `to` sends no empty fields, and Mailgun's 400 becomes a PermanentError."""
    example = next(e for e in EXAMPLES if e["id"] == "mailgun-11")
    outgoing = _outgoing(_email(example["input"]))
    payload = build_payload(outgoing)
    for key in example["expected"]["absent_fields"]:
        assert payload.values(key) == []
    assert payload.values("cc") == example["expected"]["form_fields"]["cc"]
    with pytest.raises(PermanentError) as raised:
        await mailgun.send(outgoing)
    assert raised.value.code == "http_400"
    assert "'to' parameter is missing" in raised.value.detail
    assert simulator.simulator.accepted == []


async def test_example_12_display_name_comma_is_quoted(
    simulator: RunningSimulator, mailgun: MailgunProvider
) -> None:
    """A display name holding a comma goes quoted, so Mailgun reads one address, not two."""
    sender = Address("from@example.com", "Unquoted, display-name")
    await mailgun.send(_outgoing(simple(sender=sender)))
    assert only_accepted(simulator)["payload"]["from"] == [
        '"Unquoted, display-name" <from@example.com>'
    ]


# -- field mapping beyond the examples


async def test_every_field_is_mapped(
    full_outgoing: Outgoing, simulator: RunningSimulator, mailgun: MailgunProvider
) -> None:
    """Every part of an Email arrives in its Mailgun form field or file, in one request."""
    await mailgun.send(full_outgoing)
    got = only_accepted(simulator)
    assert got["payload"] == {
        "from": ["Postroom Sender <sender@example.com>"],
        "to": ['"Doe, Jane" <to1@example.com>', "to2@example.com"],
        "cc": ["Zoë Cc <cc@example.com>"],
        "bcc": ["Secret Bcc <hidden@example.com>"],
        "subject": [full_outgoing.email.subject],
        "text": [full_outgoing.email.text],
        "html": [full_outgoing.email.html],
        "h:Reply-To": ["Replies <replies@example.com>"],
        "h:Message-Id": [full_outgoing.message_id],
        "h:X-Campaign": ["spring-sale"],
        "h:X-Entity-Ref-ID": ["order-42"],
        "o:tag": ["receipt"],
        "v:order_id": ["42"],
        "v:shop": ["eu-1"],
        "v:postroom_id": [full_outgoing.id],
    }
    assert [(f["field"], f["filename"], f["content_type"], f["sha256"]) for f in got["files"]] == [
        ("attachment", "receipt.pdf", "application/pdf", hashlib.sha256(PDF).hexdigest()),
        ("inline", "logo@postroom", "image/png", hashlib.sha256(PNG).hexdigest()),
    ]


async def test_display_name_quotes_and_idn_domains(
    simulator: RunningSimulator, mailgun: MailgunProvider
) -> None:
    """Quotes in a name are escaped inside a quoted string; a Unicode domain goes as A-labels."""
    reply_to = (Address("reply@bücher.example", 'Say "hi"'),)
    await mailgun.send(_outgoing(simple(reply_to=reply_to)))
    payload = only_accepted(simulator)["payload"]
    assert payload["h:Reply-To"] == ['"Say \\"hi\\"" <reply@xn--bcher-kva.example>']


async def test_inline_image_is_named_by_its_content_id(
    simulator: RunningSimulator, mailgun: MailgunProvider
) -> None:
    """An inline part goes in `inline`, named by its Content-ID so `cid:` in the HTML finds it."""
    logo = Attachment("logo.png", "image/png", b"\x89PNG", content_id="logo@pr.test")
    report = Attachment("report.pdf", "application/pdf", b"%PDF-1.7")
    email = simple(html='<img src="cid:logo@pr.test">', attachments=(logo, report))
    await mailgun.send(_outgoing(email))
    files = only_accepted(simulator)["files"]
    assert [(f["field"], f["filename"], f["content_type"], f["size"]) for f in files] == [
        ("inline", "logo@pr.test", "image/png", 4),
        ("attachment", "report.pdf", "application/pdf", 8),
    ]


async def test_thousand_recipients_fit_in_one_request(
    simulator: RunningSimulator, mailgun: MailgunProvider
) -> None:
    """The largest Email our limits allow (1000 recipients) is one accepted request."""
    to = tuple(Address(f"user{i}@example.com") for i in range(1000))
    await mailgun.send(_outgoing(simple(to=to)))
    assert len(only_accepted(simulator)["payload"]["to"]) == 1000


async def test_success_returns_mailguns_id(mailgun: MailgunProvider) -> None:
    """The receipt carries the id Mailgun returned, for matching its webhooks later."""
    receipt = await mailgun.send(_outgoing(simple()))
    assert receipt == Receipt("mailgun", f"<sim-00000001@{DOMAIN}>", "http_200")


# -- refused before any request


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"tags": ("a", "b", "c", "d")}, "at most 3 tags"),
        ({"tags": ("café",)}, "ASCII tags"),
        ({"text": "", "html": ""}, "text or HTML body"),
        ({"text": "  \n", "html": ""}, "text or HTML body"),
        ({"sender": Address("тест@example.com")}, "non-ASCII local part"),
        ({"metadata": tuple((f"k{i}", "x" * 900) for i in range(20))}, "16 kB"),
    ],
    ids=["four-tags", "non-ascii-tag", "no-body", "blank-body", "eai-sender", "16kb-options"],
)
async def test_unsupported_email_is_refused_before_any_request(
    changes: dict[str, Any], detail: str, simulator: RunningSimulator, mailgun: MailgunProvider
) -> None:
    """What Mailgun cannot take is a PermanentError("unsupported"), never a silent drop."""
    with pytest.raises(PermanentError) as raised:
        await mailgun.send(_outgoing(simple(**changes)))
    assert raised.value.code == "unsupported"
    assert detail in raised.value.detail
    assert simulator.simulator.requests == 0


# -- errors


async def test_wrong_key_is_misconfigured(
    simulator: RunningSimulator, connect: Callable[[str], MailgunProvider]
) -> None:
    """A key Mailgun refuses (401 "Forbidden") is MisconfiguredError, so the circuit opens."""
    simulator.simulator.api_key = "key-right"
    wrong = connect(f"mailgun://key-wrong@{DOMAIN}?base_url={simulator.url}")
    with pytest.raises(MisconfiguredError) as raised:
        await wrong.send(_outgoing(simple()))
    assert (raised.value.code, raised.value.detail) == ("http_401", "Forbidden")
    right = connect(f"mailgun://key-right@{DOMAIN}?base_url={simulator.url}")
    await right.send(_outgoing(simple()))
    assert len(simulator.simulator.accepted) == 1


async def test_provider_error_body_becomes_permanent_detail(
    simulator: RunningSimulator, mailgun: MailgunProvider
) -> None:
    """Mailgun's 400 is a PermanentError whose detail is Mailgun's own message."""
    email = simple(to=(Address("not-an-address"),))
    with pytest.raises(PermanentError) as raised:
        await mailgun.send(_outgoing(email))
    assert raised.value.code == "http_400"
    assert json.loads(raised.value.detail) == RESPONSES["invalid_to"]["body"]


async def test_outage_is_provider_down(
    simulator: RunningSimulator, mailgun: MailgunProvider
) -> None:
    """A 503 outage is ProviderDownError."""
    simulator.simulator.behaviour.outage = True
    with pytest.raises(ProviderDownError) as raised:
        await mailgun.send(_outgoing(simple()))
    assert raised.value.code == "http_503"


async def test_server_error_is_provider_down(
    simulator: RunningSimulator, mailgun: MailgunProvider
) -> None:
    """A 500 is ProviderDownError."""
    simulator.simulator.behaviour.error_rate = 1.0
    with pytest.raises(ProviderDownError) as raised:
        await mailgun.send(_outgoing(simple()))
    assert raised.value.code == "http_500"


async def test_throttle_is_throttled_with_retry_after(
    simulator: RunningSimulator, mailgun: MailgunProvider
) -> None:
    """A 429 is ThrottledError carrying Mailgun's Retry-After."""
    simulator.simulator.behaviour.throttle_retry_after = 7
    with pytest.raises(ThrottledError) as raised:
        await mailgun.send(_outgoing(simple()))
    assert (raised.value.code, raised.value.retry_after) == ("http_429", 7.0)


@pytest.fixture
def hanging_simulator(simulator: RunningSimulator) -> RunningSimulator:
    """The shared simulator (which stops without waiting for held requests), set to hang."""
    simulator.simulator.behaviour.update({"hang": True})
    return simulator


async def test_hang_is_a_timeout(
    hanging_simulator: RunningSimulator, connect: Callable[[str], MailgunProvider]
) -> None:
    """A provider that takes the request and never answers: outcome unknown within `?timeout=`."""
    url = hanging_simulator.url
    provider = connect(f"mailgun://key@{DOMAIN}?base_url={url}&timeout=0.5")
    started = time.monotonic()
    with pytest.raises(OutcomeUnknownError) as raised:
        await provider.send(_outgoing(simple()))
    assert raised.value.code == "unknown_timeout"
    assert time.monotonic() - started < 2
    assert hanging_simulator.simulator.requests == 1


async def test_connection_refused_is_provider_down(
    connect: Callable[[str], MailgunProvider],
) -> None:
    """Nobody listening is ProviderDownError("connection")."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = connect(f"mailgun://key@{DOMAIN}?base_url=http://127.0.0.1:{port}")
    with pytest.raises(ProviderDownError) as raised:
        await provider.send(_outgoing(simple()))
    assert raised.value.code == "connection"


async def test_wrong_base_url_is_misconfigured(
    simulator: RunningSimulator, connect: Callable[[str], MailgunProvider]
) -> None:
    """A base_url that is not Mailgun's API (a 404 there) is MisconfiguredError."""
    provider = connect(f"mailgun://key@{DOMAIN}?base_url={simulator.url}/elsewhere")
    with pytest.raises(MisconfiguredError) as raised:
        await provider.send(_outgoing(simple()))
    assert raised.value.code == "http_404"


@pytest.mark.parametrize(
    "body",
    [b"Mailgun Magnificent API", b'{"message": "Queued. Thank you."}', b"[]"],
    ids=["magnificent-api", "no-id", "not-an-object"],
)
def test_a_200_without_an_id_is_sent_with_its_id_unknown(body: bytes) -> None:
    """A 200 that is not Mailgun's queued reply is still a receipt, its id unknown."""
    assert parse_response(HttpReply(200, {}, body)) == Receipt("mailgun", "", "http_200_id_unknown")


def test_unknown_domain_404_is_misconfigured() -> None:
    """Mailgun's 404 "Domain not found" is MisconfiguredError: no email can fix it."""
    body = RESPONSES["unknown_domain"]["body"]
    reply = HttpReply(RESPONSES["unknown_domain"]["status"], {}, str(body).encode())
    with pytest.raises(MisconfiguredError):
        parse_response(reply)


# -- the provider URL


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("mailgun://key@mg.example.com", "https://api.mailgun.net/v3/mg.example.com/messages"),
        (
            "mailgun://key@mg.example.com?region=us",
            "https://api.mailgun.net/v3/mg.example.com/messages",
        ),
        (
            "mailgun://key@mg.example.com?region=EU",
            "https://api.eu.mailgun.net/v3/mg.example.com/messages",
        ),
        (
            "mailgun://key@mg.example.com?region=eu&base_url=http://127.0.0.1:8025/",
            "http://127.0.0.1:8025/v3/mg.example.com/messages",
        ),
        (
            "mailgun://api:key@mg.example.com?timeout=3",
            "https://api.mailgun.net/v3/mg.example.com/messages",
        ),
    ],
    ids=["default-us", "us", "eu", "base-url-overrides-region", "api-colon-key"],
)
async def test_region_selects_the_endpoint(
    url: str, endpoint: str, connect: Callable[[str], MailgunProvider]
) -> None:
    """region picks Mailgun's US or EU API; base_url overrides both."""
    assert connect(url).endpoint == endpoint


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mailgun://mg.example.com", "missing or misplaced API key"),
        ("mailgun://s3cret-key@", "missing sending domain"),
        ("mailgun://user:s3cret-key@mg.example.com", "missing or misplaced API key"),
        ("mailgun://s3cret-key@mg.example.com?region=ap", "unknown region 'ap'"),
        ("mailgun://s3cret-key@mg.example.com?regoin=eu", "unknown option(s) regoin"),
        ("mailgun://s3cret-key@mg.example.com?timeout=soon", "timeout must be a number"),
        ("mailgun://s3cret-key@mg.example.com?base_url=ftp://x", "base_url must be an http(s)"),
        ("mailgun://s3cret-key@[mg.example.com", "malformed URL"),
    ],
    ids=["no-key", "no-domain", "user-pass", "region", "option", "timeout", "base-url", "garbled"],
)
def test_malformed_url_is_a_clear_error_without_the_key(url: str, reason: str) -> None:
    """A malformed URL raises ValueError saying what is wrong, never echoing the key."""
    with pytest.raises(ValueError, match=re.escape(reason)) as raised:
        MailgunProvider.from_url(url)
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize("host", ["example.com%2Finvalid", "localhost", "ex ample.com"])
def test_url_domain_must_be_a_dns_name(host: str) -> None:
    """A sending domain that is not a DNS name (say, holding '/') is refused at configuration."""
    with pytest.raises(ValueError, match="DNS name"):
        MailgunProvider.from_url(f"mailgun://s3cret-key@{host}")


async def test_registry_opens_mailgun_and_repr_hides_the_key() -> None:
    """`mailgun://` URLs open this provider, and its repr never shows the key."""
    provider = open_provider("mailgun://s3cret-key@mg.example.com?region=eu")
    assert isinstance(provider, MailgunProvider)
    assert "s3cret" not in repr(provider)
    await provider.close()


# -- the simulator's Mailgun API, as a client other than ours meets it


async def _post(
    simulator: RunningSimulator, auth: tuple[str, str] | None = ("api", "key"), **kwargs: Any
) -> tuple[int, str]:
    headers = {"Authorization": basic_auth(*auth)} if auth else {}
    url = f"{simulator.url}/v3/{DOMAIN}/messages"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, headers=headers, **kwargs) as response,
    ):
        return response.status, await response.text()


async def test_simulator_accepts_urlencoded_and_comma_joined_recipients(
    simulator: RunningSimulator,
) -> None:
    """The simulator takes a urlencoded form, and several addresses in one `to` value."""
    form = {"from": "a@example.com", "to": "b@example.com, C <c@example.com>", "subject": "s"}
    status, _ = await _post(simulator, data={**form, "html": "<p>x</p>"})
    assert status == 200
    assert only_accepted(simulator)["payload"]["to"] == ["b@example.com, C <c@example.com>"]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"to": "b@example.com", "subject": "s", "text": "t"}, "'from' parameter is missing"),
        ({"from": "a@example.com", "subject": "s", "text": "t"}, "'to' parameter is missing"),
        ({"from": "a@example.com", "to": "b@example.com", "text": "t"}, "'subject' parameter"),
        (
            {"from": "a@example.com", "to": "b@example.com", "subject": "s", "text": " "},
            "Need at least one of 'text', 'html', 'amp-html' or 'template' parameters specified",
        ),
        (
            {"from": "nobody", "to": "b@example.com", "subject": "s", "text": "t"},
            "'from' parameter is not a valid address. please check documentation",
        ),
    ],
    ids=["no-from", "no-to", "no-subject", "blank-body", "bad-from"],
)
async def test_simulator_refuses_like_mailgun(
    form: dict[str, str], message: str, simulator: RunningSimulator
) -> None:
    """Missing or invalid fields get Mailgun's 400 and its wording; nothing is recorded."""
    status, body = await _post(simulator, data=form)
    assert status == 400
    assert message in body
    assert simulator.simulator.accepted == []


async def test_simulator_refuses_json_and_other_users(simulator: RunningSimulator) -> None:
    """A JSON body reads as an empty form; basic auth as a user other than "api" is a 401."""
    form = {"from": "a@example.com", "to": "b@example.com", "subject": "s", "text": "t"}
    assert (await _post(simulator, json=form))[0] == 400
    assert await _post(simulator, data=form, auth=("admin", "key")) == (401, "Forbidden")
    assert await _post(simulator, data=form, auth=None) == (401, "Forbidden")
