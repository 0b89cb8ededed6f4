"""The SendGrid provider against the provider simulator over real HTTP: what SendGrid receives,
and how each failure reaches the router.

Examples of tests/data/conformance/providers/anymail_examples/sendgrid.json are run as payload
checks (PAYLOAD_CASES), tested on their own (OWN_TESTS), or skipped with the reason in SKIPPED.

How the other examples' inputs are mapped onto our Email (to_outgoing / expected_for):
- A Reply-To header becomes the email's reply_to: our API refuses it as a header, as SendGrid
  does. One reply-to address goes to `reply_to`, where anymail always sends `reply_to_list`, so
  for one address the expectation is checked as `reply_to` (sendgrid-03, sendgrid-06, sendgrid-08).
- A Message-ID header becomes the Outgoing's message_id, the deterministic one Postroom sets
  (sendgrid-03).
- Numeric header and metadata values become strings, as our API requires (sendgrid-06, -10).
- Addresses are split by email.utils.parseaddr, which, like anymail's parser, tolerates the
  missing '>' of sendgrid-07.
- anymail's own custom_args.anymail_id is not ours: nothing of it is compared.
"""

import base64
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from email.utils import parseaddr
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from postroom.domain.errors import (
    MisconfiguredError,
    OutcomeUnknownError,
    PermanentError,
    ProviderDownError,
    ThrottledError,
    UnsupportedError,
)
from postroom.domain.message import Address, Attachment, Email
from postroom.ports.provider import Outgoing, Receipt
from postroom.providers import sendgrid
from postroom.providers.sendgrid import SendgridProvider
from tests.conftest import RunningSimulator, conformance

KEY = "SG.TestKey-Mixed_Case.0123456789abcdefABCDEF"
MESSAGE_ID = "<0190a6a0-0000-7000-8000-000000000001@postroom.test>"
EXAMPLES = {
    example["id"]: example
    for example in conformance("providers/anymail_examples/sendgrid.json")["examples"]
}
PAYLOAD_CASES = [
    "sendgrid-01",
    "sendgrid-02",
    "sendgrid-03",
    "sendgrid-04",
    "sendgrid-05",
    "sendgrid-06",
    "sendgrid-07",
    "sendgrid-08",
    "sendgrid-10",
    "sendgrid-12",
]
OWN_TESTS = {
    "sendgrid-09": "test_example_attachments: its first attachment has no filename and a charset"
    " parameter, which our model (a filename required, a bare MIME type) does not carry; the"
    " other two are checked",
    "sendgrid-16": "test_example_error_body: it has no message, only an error body to serve",
}
SKIPPED = {
    "sendgrid-11": "send_at: Postroom holds a scheduled email in its queue and hands it over"
    " when due, so SendGrid is never sent send_at",
    "sendgrid-13": "track_clicks / track_opens: our model carries no tracking settings",
    "sendgrid-14": "template_id: our model carries no provider templates",
    "sendgrid-15": "template_id, merge_data, merge_global_data (a batch send): not in our model",
}


def sendgrid_url(base_url: str, key: str = KEY, **options: str) -> str:
    query = "&".join(
        f"{k}={quote(v, safe='')}" for k, v in {"base_url": base_url, **options}.items()
    )
    return f"sendgrid://{key}?{query}"


@pytest.fixture
async def provider(simulator: RunningSimulator) -> AsyncIterator[SendgridProvider]:
    # The simulator accepts only KEY, so every accepted email also proves the Bearer header.
    simulator.simulator.api_key = KEY
    provider = SendgridProvider.from_url(sendgrid_url(simulator.url))
    yield provider
    await provider.close()


def email(**changes: Any) -> Email:
    fields: dict[str, Any] = {
        "sender": Address("from@example.com"),
        "to": (Address("to@example.com"),),
        "subject": "Subject",
        "text": "Text body",
    }
    return Email(**{**fields, **changes})


def outgoing(message: Email, message_id: str = MESSAGE_ID) -> Outgoing:
    return Outgoing(id="0190a6a0-0000-7000-8000-000000000001", email=message, message_id=message_id)


def received(simulator: RunningSimulator) -> dict[str, Any]:
    assert len(simulator.simulator.accepted) == 1
    accepted = simulator.simulator.accepted[0]
    assert accepted.provider == "sendgrid"
    return accepted.payload


# -- mapping the conformance examples onto our model ----------------------------------------


def to_address(text: str) -> Address:
    name, address = parseaddr(text)
    return Address(address, name)


def to_outgoing(given: dict[str, Any]) -> Outgoing:
    headers = {name: str(value) for name, value in given.get("headers", {}).items()}
    reply_to = [to_address(text) for text in given.get("reply_to", [])]
    if "Reply-To" in headers:
        reply_to.append(to_address(headers.pop("Reply-To")))
    message_id = headers.pop("Message-ID", MESSAGE_ID)
    message = Email(
        sender=to_address(given["from"]),
        to=tuple(to_address(t) for t in given.get("to", [])),
        cc=tuple(to_address(t) for t in given.get("cc", [])),
        bcc=tuple(to_address(t) for t in given.get("bcc", [])),
        reply_to=tuple(reply_to),
        subject=given.get("subject", ""),
        text=given.get("text", ""),
        html=given.get("html", ""),
        headers=tuple(headers.items()),
        tags=tuple(given.get("tags", [])),
        metadata=tuple((k, str(v)) for k, v in given.get("metadata", {}).items()),
    )
    return outgoing(message, message_id)


def expected_for(example: dict[str, Any], message: Email) -> dict[str, Any]:
    expected = dict(example["expected"].get("json_subset", {}))
    if len(message.reply_to) == 1 and "reply_to_list" in expected:
        expected["reply_to"] = expected.pop("reply_to_list")[0]
    return expected


def assert_subset(actual: Any, expected: Any, path: str = "$") -> None:
    """Every key and item of `expected` is in `actual`; lists match item by item."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} is missing"
            assert_subset(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected an array"
        assert len(actual) == len(expected), f"{path}: {len(actual)} items, not {len(expected)}"
        for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
            assert_subset(got, want, f"{path}[{index}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def path_steps(path: str) -> Iterator[str | int]:
    """`attachments[0].disposition` as "attachments", 0, "disposition"."""
    for part in path.split("."):
        name, _, rest = part.partition("[")
        yield name
        if rest:
            yield int(rest.rstrip("]"))


def assert_absent(payload: dict[str, Any], path: str) -> None:
    node: Any = payload
    steps = list(path_steps(path))
    for step in steps[:-1]:
        try:
            node = node[step]
        except (KeyError, IndexError):
            return
    assert steps[-1] not in node, f"{path} should be absent"


def test_every_example_is_accounted_for() -> None:
    """Each conformance example is run, tested on its own, or skipped with a reason."""
    assert sorted([*PAYLOAD_CASES, *OWN_TESTS, *SKIPPED]) == sorted(EXAMPLES)


@pytest.mark.parametrize("case", SKIPPED)
def test_example_outside_our_model(case: str) -> None:
    """An example whose input our model does not carry is reported as skipped, with why."""
    pytest.skip(f"{case}: {SKIPPED[case]}")


@pytest.mark.parametrize("case", PAYLOAD_CASES)
async def test_example_payload(
    case: str, provider: SendgridProvider, simulator: RunningSimulator
) -> None:
    """SendGrid receives what the anymail example expects for the same message."""
    example = EXAMPLES[case]
    item = to_outgoing(example["input"])
    await provider.send(item)
    payload = received(simulator)
    expected = example["expected"]
    if "json_subset_unordered" in expected:
        for key, values in expected["json_subset_unordered"].items():
            assert sorted(payload[key]) == sorted(values)
    assert_subset(payload, expected_for(example, item.email))
    for path in expected.get("absent_keys", []):
        assert_absent(payload, path)
    if "personalizations_count" in expected:
        assert len(payload["personalizations"]) == expected["personalizations_count"]


async def test_example_attachments(provider: SendgridProvider, simulator: RunningSimulator) -> None:
    """Attachments go base64 with type and filename; an inline one adds disposition and cid."""
    example = EXAMPLES["sendgrid-09"]
    plain, inline = example["input"]["attachments"][1:]
    cid = "image1@postroom.test"
    attachments = (
        Attachment(plain["filename"], plain["mimetype"], base64.b64decode(plain["content_b64"])),
        Attachment(
            inline["filename"], inline["mimetype"], base64.b64decode(inline["content_b64"]), cid
        ),
    )
    await provider.send(outgoing(email(attachments=attachments)))
    payload = received(simulator)
    want = example["expected"]["json_subset"]["attachments"][1:]
    want[1] = {**want[1], "content_id": cid}
    assert_subset(payload["attachments"], want)
    assert "disposition" not in payload["attachments"][0]


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """`app` on a free local port, for answers the simulator does not give."""
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def error_server() -> AsyncIterator[str]:
    """A local server answering every mail send with sendgrid-16's 400 error body."""
    response = EXAMPLES["sendgrid-16"]["provider_response"]

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(response["body"], status=response["status"])

    app = web.Application()
    app.router.add_post("/v3/mail/send", answer)
    async with serve(app) as url:
        yield url


async def test_example_error_body(error_server: str) -> None:
    """A 400 is a PermanentError whose detail holds every errors[].message."""
    provider = SendgridProvider.from_url(sendgrid_url(error_server))
    try:
        with pytest.raises(PermanentError) as raised:
            await provider.send(outgoing(email()))
    finally:
        await provider.close()
    assert raised.value.code == "http_400"
    assert "subject: Helpful explanation from SendGrid" in raised.value.detail
    assert "Another error" in raised.value.detail


# -- what else SendGrid receives ------------------------------------------------------------


async def test_receipt_carries_x_message_id(
    provider: SendgridProvider, simulator: RunningSimulator
) -> None:
    """The receipt's id is the X-Message-Id SendGrid answered with."""
    receipt = await provider.send(outgoing(email()))
    assert receipt.provider == "sendgrid"
    assert receipt.message_id == simulator.simulator.accepted[0].message_id != ""


async def test_message_id_header_is_the_deterministic_one(
    provider: SendgridProvider, simulator: RunningSimulator
) -> None:
    """The Message-ID header is the Outgoing's, so a resend carries the same one."""
    await provider.send(outgoing(email()))
    await provider.send(outgoing(email()))
    ids = [a.payload["headers"]["Message-ID"] for a in simulator.simulator.accepted]
    assert ids == [MESSAGE_ID, MESSAGE_ID]


async def test_recipients_only_inside_personalizations(
    provider: SendgridProvider, simulator: RunningSimulator
) -> None:
    """to, cc and bcc travel in one personalization and nowhere else."""
    message = email(cc=(Address("cc@example.com"),), bcc=(Address("bcc@example.com", "B"),))
    await provider.send(outgoing(message))
    payload = received(simulator)
    assert payload["personalizations"] == [
        {
            "to": [{"email": "to@example.com"}],
            "cc": [{"email": "cc@example.com"}],
            "bcc": [{"email": "bcc@example.com", "name": "B"}],
        }
    ]
    assert not {"to", "cc", "bcc"} & payload.keys()


async def test_several_reply_to_use_reply_to_list(
    provider: SendgridProvider, simulator: RunningSimulator
) -> None:
    """Several reply-to addresses go to reply_to_list, and reply_to is left out."""
    reply_to = (Address("a@example.com", "A"), Address("b@example.com"))
    await provider.send(outgoing(email(reply_to=reply_to)))
    payload = received(simulator)
    assert payload["reply_to_list"] == [
        {"email": "a@example.com", "name": "A"},
        {"email": "b@example.com"},
    ]
    assert "reply_to" not in payload


async def test_tags_and_metadata(provider: SendgridProvider, simulator: RunningSimulator) -> None:
    """Tags become categories (a repeated one sent once), metadata string custom_args beside
    the email id."""
    message = email(tags=("receipt", "eu", "receipt"), metadata=(("order", "42"),))
    await provider.send(outgoing(message))
    payload = received(simulator)
    assert payload["categories"] == ["receipt", "eu"]
    assert payload["custom_args"] == {"order": "42", "postroom_id": outgoing(message).id}


# -- refused before any request -------------------------------------------------------------

TOO_BIG = (("blob", "x" * 9_000), ("more", "y" * 1_500))
REFUSED = {
    "reserved header": (email(headers=(("Reply-To", "r@example.com"),)), "headers.Reply-To"),
    "sendgrid header": (email(headers=(("X-SG-EID", "1"),)), "headers.X-SG-EID"),
    "Message-ID header": (email(headers=(("Message-Id", "<x@y.z>"),)), "Message-ID"),
    "repeated header": (email(headers=(("X-A", "1"), ("x-a", "2"))), "repeat a name"),
    "11 tags": (email(tags=tuple(f"tag{i}" for i in range(11))), "at most 10 tags"),
    "long tag": (email(tags=("t" * 256,)), "tags[0] is longer than 255"),
    "non-ASCII tag": (email(tags=("café",)), "tags[0] must be ASCII"),
    "no subject": (email(subject=""), "subject is required"),
    "no body": (email(text="", html=""), "text or html body"),
    "repeated recipient": (email(cc=(Address("TO@example.com"),)), "only once"),
    "non-ASCII local part": (email(to=(Address("josé@example.com"),)), "to[0]: a non-ASCII"),
    "empty attachment": (email(attachments=(Attachment("a.txt", "text/plain", b""),)), "empty"),
    "big metadata": (email(metadata=TOO_BIG), "custom_args; the limit is 10,000"),
}


@pytest.mark.parametrize("case", REFUSED)
async def test_refused_before_any_request(
    case: str, provider: SendgridProvider, simulator: RunningSimulator
) -> None:
    """What SendGrid cannot take is UnsupportedError (a PermanentError, code "unsupported"),
    so the router may fail over, and no request is made."""
    message, reason = REFUSED[case]
    with pytest.raises(UnsupportedError) as raised:
        await provider.send(outgoing(message))
    assert raised.value.code == "unsupported"
    assert reason in raised.value.detail
    assert simulator.simulator.requests == 0


async def test_refusal_lists_every_problem_without_addresses(
    provider: SendgridProvider, simulator: RunningSimulator
) -> None:
    """One refusal names every problem, by field, and never echoes an address."""
    message = email(to=(Address("josé@example.com"),), subject="", tags=("é",))
    with pytest.raises(UnsupportedError) as raised:
        await provider.send(outgoing(message))
    detail = raised.value.detail
    for field in ("subject", "to[0]", "tags[0]"):
        assert field in detail
    assert "josé" not in detail
    assert simulator.simulator.requests == 0


async def test_oversized_email_refused_before_any_request(
    provider: SendgridProvider, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An email at SendGrid's 30 MB limit (lowered here to 2 kB) is refused unsent."""
    monkeypatch.setattr(sendgrid, "MAX_REQUEST_BYTES", 2048)
    big = Attachment("big.bin", "application/octet-stream", b"x" * 2048)
    with pytest.raises(UnsupportedError, match="unsupported"):
        await provider.send(outgoing(email(attachments=(big,))))
    assert simulator.simulator.requests == 0


# -- failures, as the router sees them ------------------------------------------------------


async def test_bad_key_is_misconfigured(simulator: RunningSimulator) -> None:
    """A key SendGrid refuses (401) is MisconfiguredError, with SendGrid's message."""
    simulator.simulator.api_key = KEY
    provider = SendgridProvider.from_url(sendgrid_url(simulator.url, key="SG.wrong"))
    try:
        with pytest.raises(MisconfiguredError) as raised:
            await provider.send(outgoing(email()))
    finally:
        await provider.close()
    assert raised.value.code == "http_401"
    assert "authorization grant is invalid" in raised.value.detail


async def test_outage_is_provider_down(
    provider: SendgridProvider, simulator: RunningSimulator
) -> None:
    """A 503 outage is ProviderDownError."""
    simulator.simulator.behaviour.outage = True
    with pytest.raises(ProviderDownError) as raised:
        await provider.send(outgoing(email()))
    assert raised.value.code == "http_503"


async def test_throttle_is_throttled_with_retry_after(
    provider: SendgridProvider, simulator: RunningSimulator
) -> None:
    """A 429 is ThrottledError carrying the Retry-After seconds."""
    simulator.simulator.behaviour.throttle_retry_after = 7
    with pytest.raises(ThrottledError) as raised:
        await provider.send(outgoing(email()))
    assert raised.value.retry_after == 7.0


async def test_hang_times_out(simulator: RunningSimulator) -> None:
    """A SendGrid that takes the request and never answers: outcome unknown after ?timeout=."""
    simulator.simulator.behaviour.hang = True
    provider = SendgridProvider.from_url(sendgrid_url(simulator.url, timeout="0.5"))
    try:
        with pytest.raises(OutcomeUnknownError) as raised:
            await provider.send(outgoing(email()))
    finally:
        await provider.close()
    assert raised.value.code == "unknown_timeout"
    assert simulator.simulator.requests == 1


async def test_400_from_sendgrid_is_permanent_with_detail(
    provider: SendgridProvider, simulator: RunningSimulator
) -> None:
    """A payload SendGrid refuses (here an address it finds invalid) is PermanentError."""
    with pytest.raises(PermanentError) as raised:
        await provider.send(outgoing(email(to=(Address("someone@localhost"),))))
    assert raised.value.code == "http_400"
    assert raised.value.detail == "personalizations.0.to.0.email: Does not contain a valid address."
    assert simulator.simulator.accepted == []


@pytest.mark.parametrize(
    ("status", "headers", "outcome"),
    [
        (202, {"X-Message-Id": "abc123"}, Receipt("sendgrid", "abc123", "http_202")),
        (202, {}, Receipt("sendgrid", "", "http_202_id_unknown")),
        (200, {"X-Message-Id": "abc123"}, Receipt("sendgrid", "abc123", "http_200")),
        (200, {}, Receipt("sendgrid", "", "http_200_id_unknown")),
    ],
)
async def test_every_2xx_is_a_receipt(
    status: int, headers: dict[str, str], outcome: Receipt
) -> None:
    """Any 2xx is sent, never a failure to fail over on; without X-Message-Id the id is unknown."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=status, headers=headers)

    app = web.Application()
    app.router.add_post("/v3/mail/send", answer)
    async with serve(app) as url:
        provider = SendgridProvider.from_url(sendgrid_url(url))
        try:
            assert await provider.send(outgoing(email())) == outcome
        finally:
            await provider.close()


# -- URLs -----------------------------------------------------------------------------------


def test_url_defaults_and_hidden_key() -> None:
    """sendgrid://KEY targets api.sendgrid.com, and repr never shows the key."""
    text = repr(SendgridProvider.from_url(f"sendgrid://{KEY}"))
    assert "https://api.sendgrid.com/v3/mail/send" in text
    assert KEY not in text


async def test_key_keeps_its_case(simulator: RunningSimulator) -> None:
    """The key is sent exactly as written in the URL, mixed case included."""
    simulator.simulator.api_key = KEY
    provider = SendgridProvider.from_url(sendgrid_url(simulator.url))
    try:
        await provider.send(outgoing(email()))
    finally:
        await provider.close()
    assert len(simulator.simulator.accepted) == 1


@pytest.mark.parametrize(
    "url",
    [
        "mailgun://SECRETKEY",
        "sendgrid://",
        "sendgrid://?timeout=3",
        "sendgrid://SECRETKEY?timeout=soon",
        "sendgrid://SECRETKEY?timeout=-1",
        "sendgrid://SECRETKEY?base_url=ftp://example.com",
        "sendgrid://SECRETKEY?base_url=api.sendgrid.com",
        "sendgrid://SECRETKEY?region=eu",
        "sendgrid://apikey:SECRETKEY@api.sendgrid.com",
        "sendgrid://SECRETKEY/v3",
    ],
)
def test_malformed_url_is_value_error_without_key(url: str) -> None:
    """A malformed URL is a ValueError whose message never contains the key."""
    with pytest.raises(ValueError, match="sendgrid") as raised:
        SendgridProvider.from_url(url)
    assert "secretkey" not in str(raised.value).lower()


# -- the simulator's own SendGrid checks ----------------------------------------------------


async def post_raw(
    simulator: RunningSimulator, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{simulator.url}/v3/mail/send", data=body, headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


JSON = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
VALID = (
    b'{"personalizations":[{"to":[{"email":"to@example.com"}]}],"from":{"email":"f@example.com"},'
    b'"subject":"S","content":[{"type":"text/plain","value":"x"}]}'
)


async def test_simulator_requires_a_bearer_key(simulator: RunningSimulator) -> None:
    """Without Authorization the simulator answers SendGrid's 401 body."""
    status, body = await post_raw(simulator, VALID, {"Content-Type": "application/json"})
    assert status == 401
    assert body == {"errors": [{"message": "authorization required", "field": None, "help": None}]}


async def test_simulator_wants_json(simulator: RunningSimulator) -> None:
    """A body not sent as application/json is a 415, not recorded."""
    headers = {**JSON, "Content-Type": "text/plain"}
    status, body = await post_raw(simulator, VALID, headers)
    assert status == 415
    assert body["errors"][0]["message"] == "Content-Type should be application/json."
    assert simulator.simulator.accepted == []


async def test_simulator_reports_every_missing_field(simulator: RunningSimulator) -> None:
    """An empty object gets one 400 listing personalizations, from, subject and content."""
    status, body = await post_raw(simulator, b"{}", JSON)
    assert status == 400
    fields = [error["field"] for error in body["errors"]]
    assert fields == ["personalizations", "from.email", "subject", "content"]
    assert all(error["help"].startswith("http://sendgrid.com/docs/") for error in body["errors"])


async def test_simulator_refuses_malformed_json(simulator: RunningSimulator) -> None:
    """Malformed JSON is SendGrid's bare "Bad Request"."""
    status, body = await post_raw(simulator, b'{"personalizations": [', JSON)
    assert (status, body["errors"][0]["message"]) == (400, "Bad Request")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ('"headers":{"Reply-To":"r@example.com"}', "headers"),
        ('"headers":{"X-Num":1}', "headers"),
        (
            '"content":[{"type":"text/html","value":"<p>x</p>"},{"type":"text/plain","value":"x"}]',
            "content",
        ),
        ('"content":[{"type":"text/plain","value":""}]', "content.0.value"),
        ('"categories":["a","a"]', "categories"),
        ('"custom_args":{"n":1}', "custom_args"),
        (
            '"reply_to":{"email":"a@example.com"},"reply_to_list":[{"email":"b@example.com"}]',
            "reply_to_list",
        ),
        ('"attachments":[{"content":"not base64!","filename":"a"}]', "attachments.0.content"),
    ],
)
async def test_simulator_refuses_what_sendgrid_refuses(
    change: str, field: str, simulator: RunningSimulator
) -> None:
    """Reserved or non-string headers, misordered or empty content and the like are 400s."""
    body = VALID[:-1] + b"," + change.encode() + b"}"
    status, answer = await post_raw(simulator, body, JSON)
    assert status == 400
    assert field in [error["field"] for error in answer["errors"]]
    assert simulator.simulator.accepted == []


async def test_simulator_accepts_subject_in_every_personalization(
    simulator: RunningSimulator,
) -> None:
    """A subject set in every personalization stands in for the top-level one."""
    body = (
        b'{"personalizations":[{"to":[{"email":"to@example.com"}],"subject":"S"}],'
        b'"from":{"email":"f@example.com"},"content":[{"type":"text/plain","value":"x"}]}'
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{simulator.url}/v3/mail/send", data=body, headers=JSON) as response,
    ):
        assert response.status == 202
        assert await response.read() == b""
        assert response.headers["X-Message-Id"] == simulator.simulator.accepted[0].message_id
