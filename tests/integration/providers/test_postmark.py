"""PostmarkProvider over real HTTP: against the provider simulator, and against a canned-reply
server for Postmark's real error bodies the simulator has no switch for."""

import base64
import copy
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from email.utils import formataddr, getaddresses
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from postroom.addresses.validator import parse_with_email_validator
from postroom.domain.address import parse_address
from postroom.domain.errors import (
    MisconfiguredError,
    OutcomeUnknownError,
    PermanentError,
    ProviderDownError,
    ProviderError,
    ThrottledError,
)
from postroom.domain.message import Address, Attachment, Email
from postroom.ports.provider import Outgoing, Receipt
from postroom.providers import open_provider
from postroom.providers.postmark import PostmarkProvider
from postroom.simulator import postmark as simulated
from tests.conftest import RunningSimulator, conformance

# Conformance examples whose input uses something our Email does not carry, and why.
SKIPPED = {
    "postmark-12": "send_at: Postroom keeps a scheduled email in its own queue until its time; "
    "a provider is only ever asked to send now",
    "postmark-14": "track_opens / track_clicks: the Email model has no tracking switches "
    "(anymail_specific); Postmark's server settings apply",
}
# Examples mapped onto our model with a change, and why.
ADAPTED = {
    "postmark-03": "Reply-To and Message-ID come as headers; our intake reserves both, so they "
    "map to reply_to and to Outgoing.message_id",
    "postmark-06": "header value 123 is a number; our header values are strings: '123'",
    "postmark-07": "reply-to comes as a header; it maps to reply_to",
    "postmark-09": "the first attachment has no filename and a charset parameter, both refused "
    "by our intake: left out (the other two are checked)",
    "postmark-11": "metadata value 6 is a number; our metadata values are strings: '6'",
}
# Checked by their own tests below: tags (one maps, two are refused) and real error bodies.
OWN_TESTS = {"postmark-13", "postmark-15"}

TOKEN = "Server-Token-0123-ABCD"  # mixed case on purpose: the token must reach Postmark as given
EMAIL_ID = "01900000-0000-7000-8000-000000000001"
MESSAGE_ID = f"<{EMAIL_ID}@postroom.test>"
CID = "sample-image@postroom.test"
EXAMPLES = conformance("providers/anymail_examples/postmark.json")["examples"]


# -- fixtures


@pytest.fixture
async def provider(simulator: RunningSimulator) -> AsyncIterator[PostmarkProvider]:
    simulator.simulator.api_key = TOKEN
    postmark = PostmarkProvider.from_url(f"postmark://{TOKEN}?base_url={simulator.url}")
    yield postmark
    await postmark.close()


@dataclass
class Canned:
    """A local server answering POST /email with whatever the test sets."""

    url: str = ""
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = headers or {}


@pytest.fixture
async def canned() -> AsyncIterator[Canned]:
    state = Canned()

    async def reply(request: web.Request) -> web.Response:
        state.seen.append((request.path, dict(request.headers), await request.read()))
        return web.Response(status=state.status, body=state.body, headers=state.headers)

    app = web.Application()
    app.router.add_post("/email", reply)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        yield state
    finally:
        await runner.cleanup()


@pytest.fixture
async def canned_provider(canned: Canned) -> AsyncIterator[PostmarkProvider]:
    postmark = PostmarkProvider.from_url(f"postmark://{TOKEN}?base_url={canned.url}/")
    yield postmark
    await postmark.close()


# -- building emails


def address(text: str) -> Address:
    return parse_address(text, parse_with_email_validator)


def addresses(texts: list[str]) -> tuple[Address, ...]:
    return tuple(address(t) for t in texts)


def email(**changes: Any) -> Email:
    base = Email(
        sender=Address("from@example.com"),
        to=(Address("to@example.com"),),
        subject="Subject",
        text="Text Body",
    )
    return replace(base, **changes)


def outgoing(mail: Email, message_id: str = MESSAGE_ID) -> Outgoing:
    return Outgoing(EMAIL_ID, mail, message_id)


def outgoing_from(given: dict[str, Any]) -> Outgoing:
    """An example's neutral input as our Outgoing (see ADAPTED for what changes)."""
    headers, reply_to, message_id = _split_headers(given.get("headers", {}))
    mail = Email(
        sender=address(given["from"]),
        to=addresses(given.get("to", [])),
        cc=addresses(given.get("cc", [])),
        bcc=addresses(given.get("bcc", [])),
        reply_to=addresses(given.get("reply_to", [])) + reply_to,
        subject=given.get("subject", ""),
        text=given.get("text", ""),
        html=given.get("html", ""),
        headers=headers,
        attachments=tuple(_attachment(a) for a in given.get("attachments", []) if a["filename"]),
        tags=tuple(given.get("tags", [])),
        metadata=tuple((k, str(v)) for k, v in given.get("metadata", {}).items()),
    )
    return outgoing(mail, message_id or MESSAGE_ID)


def _split_headers(
    given: dict[str, Any],
) -> tuple[tuple[tuple[str, str], ...], tuple[Address, ...], str]:
    headers: list[tuple[str, str]] = []
    reply_to: tuple[Address, ...] = ()
    message_id = ""
    for name, value in given.items():
        if name.lower() == "reply-to":
            reply_to = tuple(address(formataddr(pair)) for pair in getaddresses([value]))
        elif name.lower() == "message-id":
            message_id = value
        else:
            headers.append((name, str(value)))
    return tuple(headers), reply_to, message_id


def _attachment(given: dict[str, Any]) -> Attachment:
    if "content_b64" in given:
        content = base64.b64decode(given["content_b64"])
    else:
        content = given["content_text"].encode(given.get("charset", "utf-8"))
    content_id = given.get("content_id", "").replace("{cid}", CID)
    return Attachment(given["filename"], given["mimetype"], content, content_id)


# -- comparing payloads


def expected_for(example: dict[str, Any]) -> dict[str, Any]:
    """The example's expectations, adapted as ADAPTED says."""
    expected = json.loads(json.dumps(example["expected"]).replace("{cid}", CID))
    for section in ("json_subset", "json_unordered"):
        for item in expected.get(section, {}).get("Headers", []):
            item["Value"] = str(item["Value"])
        metadata = expected.get(section, {}).get("Metadata", {})
        metadata.update({k: str(v) for k, v in metadata.items()})
    _drop_unnamed_attachments(example["input"], expected)
    return dict(expected)


def _drop_unnamed_attachments(given: dict[str, Any], expected: dict[str, Any]) -> None:
    dropped = [i for i, a in enumerate(given.get("attachments", [])) if not a["filename"]]
    if not dropped:
        return
    subset = expected.get("json_subset", {})
    subset["Attachments"] = [
        a for i, a in enumerate(subset.get("Attachments", [])) if i not in dropped
    ]

    def shift(path: str) -> str | None:
        match = re.match(r"Attachments\[(\d+)\](.*)", path)
        if match is None:
            return path
        index = int(match.group(1))
        new = index - sum(1 for d in dropped if d < index)
        return None if index in dropped else f"Attachments[{new}]{match.group(2)}"

    shifted = (shift(p) for p in expected.get("absent_keys", []))
    expected["absent_keys"] = [p for p in shifted if p is not None]


def comparable(payload: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """The payload without our own Message-ID header, unless the example names one."""
    result = copy.deepcopy(payload)
    wanted = json.dumps(expected)
    if '"Message-ID"' not in wanted:
        result["Headers"] = [h for h in result.get("Headers", []) if h["Name"] != "Message-ID"]
    return result


def assert_subset(actual: Any, expected: Any, path: str = "$") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: not an object"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing"
            assert_subset(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: not a list"
        assert len(actual) == len(expected), f"{path}: {len(actual)} items, not {len(expected)}"
        for i, (got, want) in enumerate(zip(actual, expected, strict=True)):
            assert_subset(got, want, f"{path}[{i}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def assert_absent(payload: dict[str, Any], path: str) -> None:
    node: Any = payload
    for name, index in re.findall(r"([^.\[\]]+)(?:\[(\d+)\])?", path):
        if not isinstance(node, dict) or name not in node:
            return
        node = node[name]
        if index:
            assert isinstance(node, list), f"{path}: not a list"
            assert int(index) < len(node), f"{path}: no such item"
            node = node[int(index)]
    pytest.fail(f"{path} is present: {node!r}")


def _sorted(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def mapped_examples() -> list[Any]:
    return [
        pytest.param(e, id=e["id"])
        for e in EXAMPLES
        if "input" in e and e["id"] not in SKIPPED and e["id"] not in OWN_TESTS
    ]


# -- conformance examples


def test_every_example_is_mapped_skipped_or_tested_elsewhere() -> None:
    """Each conformance example is either mapped, skipped with a reason, or has its own test."""
    ids = {e["id"] for e in EXAMPLES}
    mapped = {p.id for p in mapped_examples()}
    assert set(SKIPPED) <= ids
    assert set(ADAPTED) <= mapped
    assert ids >= OWN_TESTS
    assert ids == mapped | set(SKIPPED) | OWN_TESTS
    assert not set(SKIPPED) & mapped


@pytest.mark.parametrize("example", mapped_examples())
async def test_example_payload_reaches_postmark(
    example: dict[str, Any], provider: PostmarkProvider, simulator: RunningSimulator
) -> None:
    """An anymail example, sent through the simulator, arrives with the expected fields."""
    receipt = await provider.send(outgoing_from(example["input"]))
    (accepted,) = simulator.simulator.accepted
    assert receipt.provider == "postmark"
    assert receipt.message_id == accepted.message_id
    expected = expected_for(example)
    payload = comparable(accepted.payload, expected)
    assert_subset(payload, expected.get("json_subset", {}))
    for key, items in expected.get("json_unordered", {}).items():
        assert _sorted(payload[key]) == _sorted(items)
    for path in expected.get("absent_keys", []):
        assert_absent(payload, path)


async def test_one_tag_maps_to_tag(provider: PostmarkProvider, simulator: RunningSimulator) -> None:
    """postmark-13: a single tag is sent as Postmark's Tag."""
    (case, _) = next(e for e in EXAMPLES if e["id"] == "postmark-13")["input_cases"]
    await provider.send(outgoing(email(tags=tuple(case["tags"]))))
    assert_subset(simulator.simulator.accepted[0].payload, case["expected_json_subset"])


async def test_two_tags_are_refused_before_sending(
    provider: PostmarkProvider, simulator: RunningSimulator
) -> None:
    """postmark-13: two tags are a PermanentError("unsupported"); nothing reaches Postmark."""
    (_, case) = next(e for e in EXAMPLES if e["id"] == "postmark-13")["input_cases"]
    with pytest.raises(PermanentError) as raised:
        await provider.send(outgoing(email(tags=tuple(case["tags"]))))
    assert raised.value.code == "unsupported"
    assert "one tag" in raised.value.detail
    assert simulator.simulator.requests == 0


# -- what the simulator received, beyond the examples


async def test_message_id_header_leads_the_custom_headers(
    provider: PostmarkProvider, simulator: RunningSimulator
) -> None:
    """Our deterministic Message-ID goes first in Headers, the email's own headers follow."""
    mail = email(headers=(("X-Order", "42"), ("List-Unsubscribe", "<mailto:u@example.com>")))
    await provider.send(outgoing(mail))
    assert simulator.simulator.accepted[0].payload["Headers"] == [
        {"Name": "Message-ID", "Value": MESSAGE_ID},
        {"Name": "X-Order", "Value": "42"},
        {"Name": "List-Unsubscribe", "Value": "<mailto:u@example.com>"},
    ]


async def test_minimal_email_sends_only_what_it_has(
    provider: PostmarkProvider, simulator: RunningSimulator
) -> None:
    """Empty optional fields are left out, so Postmark's server defaults apply."""
    await provider.send(outgoing(email(text="", html="<p>Hi</p>", subject="")))
    payload = simulator.simulator.accepted[0].payload
    assert set(payload) == {"From", "To", "HtmlBody", "Headers", "Metadata"}
    assert payload["Metadata"] == {"postroom_id": outgoing(email()).id}


async def test_display_names_with_quotes_are_escaped(
    provider: PostmarkProvider, simulator: RunningSimulator
) -> None:
    """A name with quotes, commas and backslashes is quoted and escaped, and Postmark parses it."""
    sender = Address("joe@example.com", 'Joe "JJ" Sender, jr\\')
    await provider.send(outgoing(email(sender=sender)))
    sent = simulator.simulator.accepted[0].payload["From"]
    assert sent == '"Joe \\"JJ\\" Sender, jr\\\\" <joe@example.com>'
    assert getaddresses([sent]) == [('Joe "JJ" Sender, jr\\', "joe@example.com")]


async def test_metadata_and_message_stream_are_sent(
    simulator: RunningSimulator,
) -> None:
    """Metadata goes as an object of strings with the email id beside it, message_stream as
    MessageStream."""
    url = f"postmark://{TOKEN}?base_url={simulator.url}&message_stream=outbound"
    postmark = PostmarkProvider.from_url(url)
    try:
        await postmark.send(outgoing(email(metadata=(("user_id", "12345"), ("plan", "pro")))))
    finally:
        await postmark.close()
    payload = simulator.simulator.accepted[0].payload
    email_id = outgoing(email()).id
    assert payload["Metadata"] == {"user_id": "12345", "plan": "pro", "postroom_id": email_id}
    assert payload["MessageStream"] == "outbound"


async def test_fifty_recipients_across_fields_are_accepted(
    provider: PostmarkProvider, simulator: RunningSimulator
) -> None:
    """Postmark's limit is 50 recipients per email, To, Cc and Bcc together: 50 go."""
    people = tuple(Address(f"r{i}@example.com") for i in range(50))
    await provider.send(outgoing(email(to=people[:30], cc=people[30:45], bcc=people[45:])))
    payload = simulator.simulator.accepted[0].payload
    assert len(getaddresses([payload["To"], payload["Cc"], payload["Bcc"]])) == 50


# -- refused before any network call


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        pytest.param(
            {"to": tuple(Address(f"r{i}@example.com") for i in range(51))}, "50", id="51-to"
        ),
        pytest.param(
            {
                "to": tuple(Address(f"t{i}@example.com") for i in range(26)),
                "cc": tuple(Address(f"c{i}@example.com") for i in range(25)),
            },
            "together",
            id="26-to-25-cc",
        ),
        pytest.param({"text": "", "html": ""}, "body", id="no-body"),
        pytest.param({"metadata": (("a-key-longer-than-twenty", "v"),)}, "20", id="long-meta-key"),
        pytest.param({"metadata": (("Plan", "a"), ("plan", "b"))}, "case", id="meta-key-case"),
        pytest.param({"to": (Address("jöhn@example.com"),)}, "non-ASCII", id="utf8-mailbox"),
    ],
)
async def test_what_postmark_cannot_take_is_refused_before_sending(
    changes: dict[str, Any],
    words: str,
    provider: PostmarkProvider,
    simulator: RunningSimulator,
) -> None:
    """Postmark's documented limits raise PermanentError("unsupported") with no request made."""
    with pytest.raises(PermanentError) as raised:
        await provider.send(outgoing(email(**changes)))
    assert raised.value.code == "unsupported"
    assert words in raised.value.detail
    assert simulator.simulator.requests == 0


async def test_oversized_email_is_refused_before_sending(
    provider: PostmarkProvider, simulator: RunningSimulator
) -> None:
    """An email over Postmark's 10 MB is a PermanentError("unsupported"); no request is made."""
    big = Attachment("big.bin", "application/octet-stream", b"\0" * (8 * 1024 * 1024))
    with pytest.raises(PermanentError) as raised:
        await provider.send(outgoing(email(attachments=(big,))))
    assert raised.value.code == "unsupported"
    assert "10 MB" in raised.value.detail
    assert simulator.simulator.requests == 0


# -- errors from the simulator


async def test_bad_token_is_misconfigured(simulator: RunningSimulator) -> None:
    """A token Postmark refuses (401, ErrorCode 10) is a MisconfiguredError."""
    simulator.simulator.api_key = TOKEN
    postmark = PostmarkProvider.from_url(f"postmark://wrong-token?base_url={simulator.url}")
    try:
        with pytest.raises(MisconfiguredError) as raised:
            await postmark.send(outgoing(email()))
    finally:
        await postmark.close()
    assert raised.value.code == "postmark_10"
    assert raised.value.detail == simulated.INVALID_CREDENTIAL_MESSAGE
    assert simulator.simulator.accepted == []


async def test_outage_is_provider_down(
    provider: PostmarkProvider, simulator: RunningSimulator
) -> None:
    """A 503 outage is a ProviderDownError."""
    simulator.simulator.behaviour.update({"outage": True})
    with pytest.raises(ProviderDownError) as raised:
        await provider.send(outgoing(email()))
    assert raised.value.code == "http_503"


async def test_throttle_is_throttled_with_retry_after(
    provider: PostmarkProvider, simulator: RunningSimulator
) -> None:
    """A 429 with Retry-After is a ThrottledError carrying the wait."""
    simulator.simulator.behaviour.update({"throttle_retry_after": 7})
    with pytest.raises(ThrottledError) as raised:
        await provider.send(outgoing(email()))
    assert raised.value.retry_after == 7.0


@pytest.fixture
def hanging_simulator(simulator: RunningSimulator) -> RunningSimulator:
    """The shared simulator (which stops without waiting for held requests), set to hang."""
    simulator.simulator.behaviour.update({"hang": True})
    return simulator


async def test_hang_times_out_as_provider_down(hanging_simulator: RunningSimulator) -> None:
    """A request Postmark takes and never answers: outcome unknown within ?timeout."""
    url = f"postmark://{TOKEN}?base_url={hanging_simulator.url}&timeout=0.5"
    postmark = PostmarkProvider.from_url(url)
    try:
        with pytest.raises(OutcomeUnknownError) as raised:
            await postmark.send(outgoing(email()))
    finally:
        await postmark.close()
    assert raised.value.code == "unknown_timeout"
    assert hanging_simulator.simulator.requests == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"to": (Address("invalid@localhost"),)},
            "Invalid 'To' address: 'invalid@localhost'.",
            id="to-single-label-domain",
        ),
        pytest.param(
            {"cc": (Address("user@+"),)},
            "Error parsing 'Cc': Illegal email domain '+' in address 'user@+'.",
            id="cc-illegal-domain",
        ),
        pytest.param(
            {"sender": Address("invalid@localhost")},
            "Invalid 'From' address: 'invalid@localhost'.",
            id="from-invalid",
        ),
    ],
)
async def test_invalid_address_is_permanent_with_postmarks_words(
    changes: dict[str, Any],
    message: str,
    provider: PostmarkProvider,
    simulator: RunningSimulator,
) -> None:
    """Postmark's 422 / ErrorCode 300 is a PermanentError whose detail is Postmark's message."""
    with pytest.raises(PermanentError) as raised:
        await provider.send(outgoing(email(**changes)))
    assert raised.value.code == "postmark_300"
    assert raised.value.detail == message
    assert simulator.simulator.accepted == []


# -- Postmark's real error bodies (canned server)


def _example_responses() -> list[Any]:
    example = next(e for e in EXAMPLES if e["id"] == "postmark-15")
    kinds = {406: PermanentError, 300: PermanentError, 451: ProviderDownError}
    return [
        pytest.param(r["status"], r["body"], kinds[r["body"]["ErrorCode"]], id=r["meaning"])
        for r in example["provider_responses"]
    ]


@pytest.mark.parametrize(("status", "body", "kind"), _example_responses())
async def test_real_error_bodies_classify_by_error_code(
    status: int,
    body: dict[str, Any],
    kind: type[ProviderError],
    canned: Canned,
    canned_provider: PostmarkProvider,
) -> None:
    """postmark-15: each real error body maps by ErrorCode, keeping Postmark's Message."""
    canned.answer(status, body)
    with pytest.raises(kind) as raised:
        await canned_provider.send(outgoing(email()))
    assert type(raised.value) is kind
    assert raised.value.code == f"postmark_{body['ErrorCode']}"
    assert raised.value.detail == body["Message"]


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (
            401,
            {"ErrorCode": 10, "Message": simulated.INVALID_CREDENTIAL_MESSAGE},
            MisconfiguredError,
            "postmark_10",
        ),
        (
            422,
            {"ErrorCode": 400, "Message": "Sender signature not found."},
            MisconfiguredError,
            "postmark_400",
        ),
        (
            422,
            {"ErrorCode": 401, "Message": "Sender signature not confirmed."},
            MisconfiguredError,
            "postmark_401",
        ),
        (
            422,
            {"ErrorCode": 412, "Message": "Account is pending."},
            MisconfiguredError,
            "postmark_412",
        ),
        (
            422,
            {"ErrorCode": 413, "Message": "Account may not send."},
            MisconfiguredError,
            "postmark_413",
        ),
        (
            422,
            {"ErrorCode": 411, "Message": "Forbidden attachment type."},
            PermanentError,
            "postmark_411",
        ),
        (422, {"ErrorCode": 100, "Message": "Maintenance."}, ProviderDownError, "postmark_100"),
        (422, {"ErrorCode": 99999, "Message": "Something new."}, PermanentError, "http_422"),
        (500, b"Internal Server Error", ProviderDownError, "http_500"),
        (403, b"<html><h1>403 Forbidden</h1></html>", MisconfiguredError, "http_403"),
    ],
)
async def test_error_codes_where_the_status_misleads(
    status: int,
    body: Any,
    kind: type[ProviderError],
    code: str,
    canned: Canned,
    canned_provider: PostmarkProvider,
) -> None:
    """Account and sender problems answered 422 are MisconfiguredError; others by their status."""
    canned.answer(status, body)
    with pytest.raises(kind) as raised:
        await canned_provider.send(outgoing(email()))
    assert type(raised.value) is kind
    assert raised.value.code == code


async def test_a_2xx_that_cannot_be_read_is_sent_with_its_id_unknown(
    canned: Canned, canned_provider: PostmarkProvider
) -> None:
    """A 200 captive-portal page is a receipt with no id, never a failure to fail over on."""
    canned.answer(200, b"<html>captive portal</html>")
    receipt = await canned_provider.send(outgoing(email()))
    assert receipt == Receipt("postmark", "", "http_200_id_unknown")


async def test_rate_limit_error_code_is_throttled(
    canned: Canned, canned_provider: PostmarkProvider
) -> None:
    """ErrorCode 429 is a ThrottledError, with Retry-After when Postmark sends one."""
    canned.answer(429, {"ErrorCode": 429, "Message": "Rate limit exceeded."}, {"Retry-After": "3"})
    with pytest.raises(ThrottledError) as raised:
        await canned_provider.send(outgoing(email()))
    assert raised.value.code == "postmark_429"
    assert raised.value.retry_after == 3.0


async def test_partly_inactive_recipients_still_count_as_sent(
    canned: Canned, canned_provider: PostmarkProvider
) -> None:
    """ErrorCode 0 with a note on inactive addresses is a success: the others were sent."""
    note = (
        "Message OK, but will not deliver to these inactive addresses: gone@example.com. "
        "Inactive recipients are ones that have generated a hard bounce or a spam complaint."
    )
    canned.answer(200, {"ErrorCode": 0, "Message": note, "MessageID": "b4007d94", "To": "x"})
    receipt = await canned_provider.send(outgoing(email()))
    assert receipt.message_id == "b4007d94"


async def test_request_carries_postmarks_headers(
    canned: Canned, canned_provider: PostmarkProvider
) -> None:
    """POST {base}/email with the server token, a JSON body and Accept: application/json."""
    canned.answer(200, conformance("providers/postmark/email_fields.json")["success_response"])
    receipt = await canned_provider.send(outgoing(email()))
    ((path, headers, body),) = canned.seen
    assert path == "/email"
    assert headers["X-Postmark-Server-Token"] == TOKEN
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["To"] == "to@example.com"
    assert receipt.message_id == "b4007d94-33f1-4e78-a783-97417d6c80e6"


# -- the simulator's own Postmark checks


async def _post(
    simulator: RunningSimulator, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{simulator.url}/email", data=body, headers=headers) as response,
    ):
        return response.status, await response.json()


JSON_HEADERS = {"X-Postmark-Server-Token": TOKEN, "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("headers", "body", "status", "error_code", "message"),
    [
        (
            {"Content-Type": "application/json"},
            b"{}",
            401,
            10,
            simulated.MISSING_CREDENTIAL_MESSAGE,
        ),
        ({"X-Postmark-Server-Token": TOKEN, "Content-Type": "text/plain"}, b"{}", 422, 409, None),
        (JSON_HEADERS, b"{not json", 422, 402, None),
        (
            JSON_HEADERS,
            b'{"From": "a@example.com", "To": "b@example.com"}',
            422,
            300,
            simulated.NO_BODY,
        ),
        (JSON_HEADERS, b'{"From": "a@example.com", "TextBody": "x"}', 422, 300, None),
    ],
    ids=["no-token", "not-json-type", "bad-json", "no-body", "no-recipient"],
)
async def test_simulator_refuses_as_postmark_does(
    headers: dict[str, str],
    body: bytes,
    status: int,
    error_code: int,
    message: str | None,
    simulator: RunningSimulator,
) -> None:
    """The simulator's Postmark route answers refusals with Postmark's status and ErrorCode."""
    simulator.simulator.api_key = TOKEN
    got_status, reply = await _post(simulator, body, headers)
    assert (got_status, reply["ErrorCode"]) == (status, error_code)
    assert message is None or reply["Message"] == message
    assert simulator.simulator.accepted == []


async def test_simulator_success_body_has_postmarks_shape(simulator: RunningSimulator) -> None:
    """A Cc-only email is accepted with Postmark's success body, without To, as Postmark does."""
    body = b'{"From": "a@example.com", "Cc": "c@example.com", "TextBody": "x"}'
    status, reply = await _post(simulator, body, JSON_HEADERS)
    assert status == 200
    assert set(reply) == {"SubmittedAt", "MessageID", "ErrorCode", "Message"}
    assert (reply["ErrorCode"], reply["Message"]) == (0, "OK")
    assert simulator.simulator.accepted[0].payload == json.loads(body)


# -- URL


def test_url_keeps_token_case_and_hides_it() -> None:
    """The token is taken as written (not lowercased) and never shown in repr."""
    postmark = PostmarkProvider.from_url(f"postmark://{TOKEN}")
    assert postmark.send_headers()["X-Postmark-Server-Token"] == TOKEN
    assert TOKEN not in repr(postmark)
    assert "https://api.postmarkapp.com/email" in repr(postmark)


def test_url_scheme_opens_the_postmark_provider() -> None:
    """postmark:// in POSTROOM_PROVIDERS opens a PostmarkProvider."""
    assert isinstance(open_provider(f"postmark://{TOKEN}?timeout=3"), PostmarkProvider)


SECRET = "SeCrEt-ToKeN-42"


@pytest.mark.parametrize(
    "url",
    [
        "postmark://",
        "postmark://?timeout=3",
        f"postmark://user:{SECRET}@api.postmarkapp.com",
        f"postmark://{SECRET}/extra/path",
        f"postmark://{SECRET}#fragment",
        f"postmark://{SECRET}?colour=blue",
        f"postmark://{SECRET}?timeout=soon",
        f"postmark://{SECRET}?timeout=0",
        f"postmark://{SECRET}?base_url=ftp://example.com",
        f"postmark://{SECRET}?base_url=not-a-url",
        f"sendgrid://{SECRET}",
        f"postmark://[{SECRET}",
    ],
)
def test_malformed_url_is_refused_without_the_token(url: str) -> None:
    """A malformed URL raises ValueError whose message names the problem, not the token."""
    with pytest.raises(ValueError, match="postmark") as raised:
        PostmarkProvider.from_url(url)
    assert SECRET not in str(raised.value)
