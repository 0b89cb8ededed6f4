"""MailgunInbound: Mailgun's signed webhooks, JSON and legacy form, verified and then parsed.

The cases are tests/data/conformance/events/mailgun.json (django-anymail's Mailgun webhook
tests), signed with the file's key at timestamps of 2013-2018: each is received at its own
signature time. The signature vectors are tests/data/conformance/webhooks.json "mailgun".
"""

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest

from postroom.ports.events import Replay
from postroom.providers import ProviderConfigError
from postroom.providers._http import HttpReply
from postroom.providers.mailgun import MailgunProvider
from postroom.providers.webhooks import missing_secrets, open_inbound, provider_name
from postroom.providers.webhooks.base import Received, WebhookRequest
from postroom.providers.webhooks.mailgun import MAX_SKEW, MailgunInbound, signature_matches
from tests.conftest import conformance
from tests.support.webhooks import expected_of as expected_events
from tests.support.webhooks import refused, summary

EVENTS = conformance("events/mailgun.json")
CASES = {case["id"]: case for case in EVENTS["cases"]}
VECTORS = conformance("webhooks.json")["mailgun"]["vectors"]
KEY = EVENTS["signing"]["webhook_signing_key"]
URL = f"mailgun://key-test@mg.example.com?webhook_signing_key={KEY}"
# Where we differ from `expected`: the event's own id (event-data.id) is its event_id when it
# has one, where anymail always reports the signature token (the module says why).
EVENT_IDS = {
    "mailgun-01": "hTWCTD81RtiDN-...",
    "mailgun-05": "ncV2XwymRUKbPek_MIM-Gw",
    "mailgun-06": "W3X4JOhFT-OZidZGKKr9iA",
}
POSTROOM_ID = "01890f2e-7c4a-7b3e-9d2f-3a4b5c6d7e8f"


def request(body: bytes, content_type: str, now: float) -> WebhookRequest:
    return WebhookRequest({"content-type": content_type}, body, now)


def signed_at(case: dict[str, Any]) -> float:
    """The case's signature timestamp, when Mailgun sent it."""
    if case["content_type"] == "application/json":
        return float(json.loads(case["body"])["signature"]["timestamp"])
    return float(parse_qs(case["body"])["timestamp"][-1])


async def receive(case: dict[str, Any], inbound: MailgunInbound | None = None) -> Received:
    endpoint = inbound or MailgunInbound.from_url(URL)
    body = case["body"].encode()
    return await endpoint.receive(request(body, case["content_type"], signed_at(case)))


def expected_of(case: dict[str, Any]) -> list[dict[str, Any]]:
    found = expected_events(case)
    if case["id"] in EVENT_IDS:
        found[0]["event_id"] = EVENT_IDS[case["id"]]
    return found


def sign(timestamp: str, token: str, key: str = KEY) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def signed_json(event_data: Any, timestamp: str = "1534110422", key: str = KEY) -> bytes:
    token = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = {"timestamp": timestamp, "token": token, "signature": sign(timestamp, token, key)}
    return json.dumps({"signature": signature, "event-data": event_data}).encode()


# -- the conformance cases


@pytest.mark.parametrize("case_id", sorted(CASES))
async def test_every_case_gives_its_expected_events(case_id: str) -> None:
    """Each recorded request verifies at its own time and gives the events `expected` lists."""
    received = await receive(CASES[case_id])
    assert [summary(event) for event in received.events] == expected_of(CASES[case_id])


@pytest.mark.parametrize("case_id", ["mailgun-02", "mailgun-10"])
async def test_the_token_and_the_body_digest_are_the_replay_key(case_id: str) -> None:
    """The signed token comes back with a hash of the exact body, for the store to check."""
    case = CASES[case_id]
    body = case["body"].encode()
    received = await receive(case)
    token = received.events[0].event_id
    assert received.replay == Replay(str(token), hashlib.sha256(body).hexdigest())


async def test_events_are_described_without_addresses() -> None:
    """A diagnostic that quotes the recipient keeps the code and loses the address."""
    data = json.loads(CASES["mailgun-02"]["body"])["event-data"]
    data["delivery-status"]["message"] = "550 5.1.1 <invalid@example.com>: no such user"
    body = signed_json(data)
    [event] = (
        await MailgunInbound.from_url(URL).receive(request(body, "application/json", 1534110422))
    ).events
    assert event.description == "550 5.1.1 <address>: no such user"


# -- the correlation id


async def test_the_correlation_id_comes_from_user_variables() -> None:
    """event-data.user-variables.postroom_id is the email's id."""
    data = json.loads(CASES["mailgun-07"]["body"])["event-data"]
    data["user-variables"]["postroom_id"] = POSTROOM_ID
    webhook = request(signed_json(data), "application/json", 1534110422)
    [event] = (await MailgunInbound.from_url(URL).receive(webhook)).events
    assert event.correlation_id == POSTROOM_ID


async def test_a_legacy_form_carries_the_id_as_a_field() -> None:
    """Legacy webhooks merge the custom variables into the form: the postroom_id field."""
    form = parse_qs(CASES["mailgun-12"]["body"])
    form["postroom_id"] = [POSTROOM_ID]
    webhook = request(
        urlencode(form, doseq=True).encode(), "application/x-www-form-urlencoded", 1234567890
    )
    [event] = (await MailgunInbound.from_url(URL).receive(webhook)).events
    assert event.correlation_id == POSTROOM_ID


async def test_a_legacy_form_carries_the_id_in_x_mailgun_variables() -> None:
    """Events with the message's headers keep the variables in X-Mailgun-Variables."""
    form = parse_qs(CASES["mailgun-11"]["body"])
    headers = json.loads(form["message-headers"][0])
    headers.append(["X-Mailgun-Variables", json.dumps({"postroom_id": POSTROOM_ID})])
    form["message-headers"] = [json.dumps(headers)]
    webhook = request(
        urlencode(form, doseq=True).encode(), "application/x-www-form-urlencoded", 1461261330
    )
    [event] = (await MailgunInbound.from_url(URL).receive(webhook)).events
    assert event.correlation_id == POSTROOM_ID


async def test_a_multipart_legacy_form_reads_like_an_urlencoded_one() -> None:
    """The same legacy fields posted as multipart/form-data give the same event."""
    case = CASES["mailgun-11"]
    boundary = "postroom-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, values in parse_qs(case["body"]).items()
        for value in values
    ]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    content_type = f"multipart/form-data; boundary={boundary}"
    inbound = MailgunInbound.from_url(URL)
    from_multipart = await inbound.receive(request(body, content_type, signed_at(case)))
    assert [summary(e) for e in from_multipart.events] == expected_of(case)


# -- refusals


async def test_a_forged_signature_is_refused() -> None:
    """One changed hex digit of the signature: 401 "signature", and nothing else said."""
    payload = json.loads(CASES["mailgun-02"]["body"])
    last = payload["signature"]["signature"][-1]
    payload["signature"]["signature"] = payload["signature"]["signature"][:-1] + (
        "0" if last != "0" else "1"
    )
    webhook = request(json.dumps(payload).encode(), "application/json", 1534110422)
    error = await refused(MailgunInbound.from_url(URL), webhook)
    assert (error.status, error.code, str(error)) == (401, "signature", "signature")


async def test_a_signature_made_with_another_key_is_refused() -> None:
    """A correct HMAC under someone else's key proves nothing."""
    body = signed_json({"event": "delivered"}, key="someone-elses-key")
    error = await refused(
        MailgunInbound.from_url(URL), request(body, "application/json", 1534110422)
    )
    assert (error.status, error.code) == (401, "signature")


async def test_a_subaccount_event_verifies_by_its_parent_signature() -> None:
    """Subaccount events carry parent-signature, made with the primary account's key."""
    payload = json.loads(signed_json({"event": "delivered"}, key="subaccount-key"))
    block = payload["signature"]
    block["parent-signature"] = sign(block["timestamp"], block["token"])
    webhook = request(json.dumps(payload).encode(), "application/json", 1534110422)
    [event] = (await MailgunInbound.from_url(URL).receive(webhook)).events
    assert event.type.value == "delivered"


@pytest.mark.parametrize("offset", [MAX_SKEW + 1, -(MAX_SKEW + 1)])
async def test_a_stale_timestamp_is_refused(offset: float) -> None:
    """Further from now than the provider's retry period, either way: 401 "stale"."""
    case = CASES["mailgun-02"]
    webhook = request(case["body"].encode(), "application/json", signed_at(case) + offset)
    error = await refused(MailgunInbound.from_url(URL), webhook)
    assert (error.status, error.code) == (401, "stale")


async def test_five_minutes_away_is_still_fresh() -> None:
    """The window's edge is accepted."""
    case = CASES["mailgun-02"]
    webhook = request(case["body"].encode(), "application/json", signed_at(case) + MAX_SKEW)
    assert len((await MailgunInbound.from_url(URL).receive(webhook)).events) == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"event-data": {"event": "delivered"}}', "application/json"),
        (b'{"signature": {"timestamp": "1", "token": "t"}, "event-data": {}}', "application/json"),
        (b'{"signature": "3b754b7c", "event-data": {}}', "application/json"),
        (b"event=delivered&recipient=a%40example.com", "application/x-www-form-urlencoded"),
        (b"", "application/x-www-form-urlencoded"),
    ],
    ids=[
        "json-unsigned",
        "json-no-signature",
        "json-signature-not-an-object",
        "form-unsigned",
        "empty",
    ],
)
async def test_an_unsigned_request_is_refused(body: bytes, content_type: str) -> None:
    """No signature, or part of one: 401 "signature"."""
    error = await refused(MailgunInbound.from_url(URL), request(body, content_type, 1534110422))
    assert (error.status, error.code) == (401, "signature")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe{}",
        b"[1, 2]",
        b'"a string"',
        b"[" * 100_000,
        signed_json(None),
        signed_json(["delivered"]),
        signed_json({"event": 7}),
    ],
    ids=[
        "bad-json",
        "not-utf8",
        "array",
        "string",
        "deep",
        "no-event-data",
        "event-data-array",
        "event-not-text",
    ],
)
async def test_a_malformed_body_is_refused(body: bytes) -> None:
    """Not JSON, not an object, or signed but without an event: 400 "malformed"."""
    error = await refused(
        MailgunInbound.from_url(URL), request(body, "application/json", 1534110422)
    )
    assert (error.status, error.code, str(error)) == (400, "malformed", "malformed")


@pytest.mark.parametrize("case_id", ["mailgun-01", "mailgun-10"])
async def test_without_a_signing_key_every_request_is_refused(case_id: str) -> None:
    """A URL without webhook_signing_key gives an endpoint that accepts nothing."""
    inbound = MailgunInbound.from_url("mailgun://key-test@mg.example.com")
    case = CASES[case_id]
    error = await refused(
        inbound, request(case["body"].encode(), case["content_type"], signed_at(case))
    )
    assert error.status == 401


# -- the signature vectors


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS if v["expected_valid"] is not None], ids=lambda v: str(v["id"])
)
def test_signature_vectors(vector: dict[str, Any]) -> None:
    """Each graded vector of webhooks.json verifies, or fails, as it says."""
    valid = signature_matches(
        vector["signing_key"].encode(), vector["timestamp"], vector["token"], vector["signature"]
    )
    assert valid is vector["expected_valid"]


def test_a_non_ascii_signature_is_a_mismatch_not_an_error() -> None:
    """compare_digest refuses non-ASCII text; over bytes it is a plain mismatch."""
    assert signature_matches(b"key", "1", "token", "é" * 64) is False


async def test_a_lone_surrogate_in_the_signature_block_is_refused_not_an_error() -> None:
    """JSON can spell a lone surrogate (\\ud800): the request is refused, nothing breaks."""
    body = b'{"signature": {"timestamp": "1534110422", "token": "\\ud800", "signature": "\\udfff"}}'
    error = await refused(
        MailgunInbound.from_url(URL), request(body, "application/json", 1534110422)
    )
    assert (error.status, error.code) == (401, "signature")


# -- configuration


def test_one_url_configures_both_directions() -> None:
    """The sending URL with name= and the signing key opens a named inbound endpoint."""
    inbound = open_inbound(f"{URL}&name=mg-eu&region=eu")
    assert inbound is not None
    assert (inbound.kind, inbound.name) == ("mailgun", "mg-eu")
    assert KEY not in repr(inbound)


def test_the_sending_provider_takes_its_name_from_the_url() -> None:
    """name= names the provider in the receipts it returns; the scheme is the default."""
    named = MailgunProvider.from_url(f"{URL}&name=mg-eu")
    reply = HttpReply(200, {}, b'{"id": "<id@mg.example.com>", "message": "Queued"}')
    assert (named.name, named.parse(reply).provider) == ("mg-eu", "mg-eu")
    assert MailgunProvider.from_url(URL).parse(reply).provider == "mailgun"


@pytest.mark.parametrize("name", ["MG", "mg.eu", "%20", "x" * 41, "mg%20eu", "m%C3%A9"])
def test_a_bad_name_is_refused(name: str) -> None:
    """Names are 1-40 of a-z 0-9 _ -; anything else fails at start-up, sending or receiving."""
    with pytest.raises(ProviderConfigError, match="name must be"):
        open_inbound(f"{URL}&name={name}")
    with pytest.raises(ValueError, match="name must be"):
        MailgunProvider.from_url(f"{URL}&name={name}")


def test_the_registry_knows_the_kinds_without_events() -> None:
    """SMTP and the outbox report no events: no endpoint, and no secrets to miss."""
    assert open_inbound("smtp://relay.example.com:587") is None
    assert open_inbound("outbox://./outbox?name=dev") is None
    assert provider_name("outbox://./outbox?name=dev") == "dev"
    assert missing_secrets("smtp://relay.example.com:587") == []


def test_missing_secrets_name_the_option() -> None:
    """What `postroom webhooks urls` reports: the option an endpoint still needs."""
    assert missing_secrets("mailgun://key-test@mg.example.com") == ["webhook_signing_key"]
    assert missing_secrets(URL) == []
    assert provider_name(URL) == "mailgun"


def test_unknown_options_are_still_refused() -> None:
    """A typo in a webhook option fails like any other unknown option."""
    with pytest.raises(ProviderConfigError, match="unknown option"):
        open_inbound("mailgun://key-test@mg.example.com?webhook_signing_ky=x")
