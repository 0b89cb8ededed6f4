"""SendgridInbound: SendGrid's Event Webhook, ECDSA-verified over the exact bytes, then parsed.

The cases are tests/data/conformance/events/sendgrid.json (django-anymail's SendGrid webhook
tests). Only sendgrid-11 was signed by SendGrid's key; the others are signed here with the
throwaway P-256 key of tests/data/conformance/webhooks.json, whose "sendgrid" vectors are
checked too.
"""

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import (
    ECDSA,
    SECP384R1,
    EllipticCurvePrivateKey,
    generate_private_key,
)
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from postroom.domain.events import EventType
from postroom.providers import ProviderConfigError
from postroom.providers._http import HttpReply
from postroom.providers.sendgrid import SendgridProvider
from postroom.providers.webhooks import missing_secrets, open_inbound
from postroom.providers.webhooks.base import Received, WebhookRequest
from postroom.providers.webhooks.sendgrid import (
    MAX_SKEW,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SendgridInbound,
    load_public_key,
    parse_events,
    signature_matches,
)
from tests.conftest import conformance
from tests.support.webhooks import expected_of, refused, summary

EVENTS = conformance("events/sendgrid.json")
CASES = {case["id"]: case for case in EVENTS["cases"]}
SIGNED_BY_SENDGRID = "sendgrid-11"
WEBHOOKS = conformance("webhooks.json")["sendgrid"]
VECTORS = WEBHOOKS["vectors"]
TEST_KEY = WEBHOOKS["generated_test_key"]
# sendgrid-11 is webhooks.json's sg-1: the same body, signature and key.
SENDGRID_KEY = next(v["public_key"] for v in VECTORS if v["id"] == "sg-1")
NOW = 1_700_000_000
POSTROOM_ID = "01890f2e-7c4a-7b3e-9d2f-3a4b5c6d7e8f"


def url(public_key: str = TEST_KEY["public_key_b64_der"], extra: str = "") -> str:
    return f"sendgrid://SG.key?webhook_public_key={quote(public_key, safe='')}{extra}"


def private_key() -> EllipticCurvePrivateKey:
    key = load_pem_private_key(TEST_KEY["private_key_pem"].encode(), password=None)
    assert isinstance(key, EllipticCurvePrivateKey)
    return key


def signed(body: bytes, timestamp: int = NOW) -> WebhookRequest:
    """`body` as SendGrid posts it, signed with the throwaway key at `timestamp`."""
    signature = private_key().sign(str(timestamp).encode() + body, ECDSA(SHA256()))
    headers = {
        "content-type": "application/json",
        SIGNATURE_HEADER: base64.b64encode(signature).decode(),
        TIMESTAMP_HEADER: str(timestamp),
    }
    return WebhookRequest(headers, body, float(timestamp))


def as_sent(case: dict[str, Any]) -> WebhookRequest:
    """The case's request: SendGrid's own headers for the signed case, ours for the others."""
    body = case["body"].encode()
    if case["id"] != SIGNED_BY_SENDGRID:
        return signed(body)
    headers = {name.lower(): value for name, value in case["headers"].items()}
    return WebhookRequest(headers, body, float(headers[TIMESTAMP_HEADER]))


async def receive(case: dict[str, Any]) -> Received:
    key = SENDGRID_KEY if case["id"] == SIGNED_BY_SENDGRID else TEST_KEY["public_key_b64_der"]
    return await SendgridInbound.from_url(url(key)).receive(as_sent(case))


# -- the conformance cases


@pytest.mark.parametrize("case_id", sorted(CASES))
async def test_every_case_gives_its_expected_events(case_id: str) -> None:
    """Each case verifies and gives the events `expected` lists, in the array's order."""
    received = await receive(CASES[case_id])
    assert [summary(event) for event in received.events] == expected_of(CASES[case_id])
    assert received.replay is None


async def test_sendgrids_signed_request_verifies_with_its_public_key() -> None:
    """sendgrid-11, exactly as SendGrid signed it, passes with the key SendGrid published."""
    case = CASES[SIGNED_BY_SENDGRID]
    assert SENDGRID_KEY in case["notes"]
    [event] = (await receive(case)).events
    assert event.type is EventType.REJECTED


@pytest.mark.parametrize("position", [0, 57, -1])
async def test_one_changed_byte_fails_the_signature(position: int) -> None:
    """Any byte of the body changed after signing, the final CRLF included: 401 "signature"."""
    webhook = as_sent(CASES[SIGNED_BY_SENDGRID])
    body = bytearray(webhook.body)
    body[position] ^= 0x01
    changed = WebhookRequest(webhook.headers, bytes(body), webhook.now)
    error = await refused(SendgridInbound.from_url(url(SENDGRID_KEY)), changed)
    assert (error.status, error.code, str(error)) == (401, "signature", "signature")


async def test_a_batch_event_has_the_digest_it_has_alone() -> None:
    """The digest is of the event's canonical form, whichever batch carried it."""
    batch = parse_events(CASES["sendgrid-10"]["body"].encode())
    alone = parse_events(CASES["sendgrid-02"]["body"].encode())
    assert batch[1].digest == alone[0].digest
    assert len({event.digest for event in batch}) == len(batch)


async def test_custom_args_carry_the_correlation_id() -> None:
    """SendGrid flattens custom_args into each event: postroom_id is the email's id."""
    events = json.loads(CASES["sendgrid-02"]["body"])
    events[0]["postroom_id"] = POSTROOM_ID
    [event] = parse_events(json.dumps(events).encode())
    assert event.correlation_id == POSTROOM_ID


def test_reasons_are_described_without_addresses() -> None:
    """A bounce reason quoting the recipient keeps the code and loses the address."""
    events = json.loads(CASES["sendgrid-06"]["body"])
    events[0]["reason"] = "550 5.1.1 <noreply@example.com>: Recipient address rejected"
    [event] = parse_events(json.dumps(events).encode())
    assert event.description == "550 5.1.1 <address>: Recipient address rejected"


def test_a_blocked_bounce_is_soft() -> None:
    """`type` blocked is a refusal that may pass; any other bounce is hard."""
    events = json.loads(CASES["sendgrid-06"]["body"])
    events[0]["type"] = "blocked"
    [event] = parse_events(json.dumps(events).encode())
    assert (event.type, event.bounce and event.bounce.value) == (EventType.BOUNCED, "soft")


def test_an_event_this_vocabulary_lacks_is_unknown() -> None:
    """A new SendGrid event name is recorded as unknown, not refused."""
    [event] = parse_events(b'[{"event": "account_status_change", "timestamp": 1700000000}]')
    assert (event.type, event.recipient, event.timestamp) == (EventType.UNKNOWN, None, 1700000000)


# -- refusals


@pytest.mark.parametrize("offset", [MAX_SKEW + 1, -(MAX_SKEW + 1)])
async def test_a_stale_timestamp_is_refused(offset: int) -> None:
    """Signed further from now than SendGrid's retry period, either way: 401 "stale"."""
    webhook = signed(CASES["sendgrid-02"]["body"].encode())
    late = WebhookRequest(webhook.headers, webhook.body, webhook.now + offset)
    error = await refused(SendgridInbound.from_url(url()), late)
    assert (error.status, error.code) == (401, "stale")


@pytest.mark.parametrize("dropped", [SIGNATURE_HEADER, TIMESTAMP_HEADER, "both"])
async def test_an_unsigned_request_is_refused(dropped: str) -> None:
    """Without the signature or its timestamp header: 401 "signature"."""
    webhook = signed(CASES["sendgrid-02"]["body"].encode())
    headers = {
        name: value
        for name, value in webhook.headers.items()
        if name != dropped and not (dropped == "both" and name.startswith("x-twilio"))
    }
    error = await refused(
        SendgridInbound.from_url(url()), WebhookRequest(headers, webhook.body, NOW)
    )
    assert (error.status, error.code) == (401, "signature")


async def test_a_signature_that_is_not_base64_is_refused() -> None:
    """A garbled signature header is a wrong signature, not an error."""
    webhook = signed(b"[]")
    headers = {**webhook.headers, SIGNATURE_HEADER: "not base64 at all!"}
    error = await refused(SendgridInbound.from_url(url()), WebhookRequest(headers, b"[]", NOW))
    assert (error.status, error.code) == (401, "signature")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe[]",
        b'{"event": "delivered"}',
        b"[1]",
        b'[{"email": "a@example.com"}]',
        b'[{"event": ["open"]}]',
        b"[" * 100_000,
    ],
    ids=["bad-json", "not-utf8", "object", "not-objects", "no-event", "event-not-text", "deep"],
)
async def test_a_malformed_body_is_refused(body: bytes) -> None:
    """Signed, but not an array of events: 400 "malformed"."""
    error = await refused(SendgridInbound.from_url(url()), signed(body))
    assert (error.status, error.code, str(error)) == (400, "malformed", "malformed")


async def test_without_a_public_key_every_request_is_refused() -> None:
    """A URL without webhook_public_key gives an endpoint that accepts nothing."""
    inbound = SendgridInbound.from_url("sendgrid://SG.key")
    error = await refused(inbound, signed(CASES["sendgrid-02"]["body"].encode()))
    assert error.status == 401


# -- the signature vectors


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS if v["expected_valid"] is not None], ids=lambda v: str(v["id"])
)
def test_signature_vectors(vector: dict[str, Any]) -> None:
    """Each graded vector of webhooks.json verifies, or fails, as it says."""
    key = load_public_key(vector["public_key"])
    valid = signature_matches(
        key, vector["timestamp"], vector["payload"].encode(), vector["signature"]
    )
    assert valid is vector["expected_valid"]


# -- configuration


def test_one_url_configures_both_directions() -> None:
    """The sending URL with name= and the public key opens a named inbound endpoint."""
    inbound = open_inbound(url(extra="&name=sg-eu&base_url=https://api.eu.sendgrid.com"))
    assert inbound is not None
    assert (inbound.kind, inbound.name) == ("sendgrid", "sg-eu")
    sender = SendgridProvider.from_url(url(extra="&name=sg-eu"))
    receipt = sender.parse(HttpReply(202, {"X-Message-Id": "abc"}, b""))
    assert (sender.name, receipt.provider) == ("sg-eu", "sg-eu")


def test_a_key_pasted_without_percent_encoding_still_loads() -> None:
    """An unencoded '+' of the base64 key reads back as a space; the key still loads."""
    raw = TEST_KEY["public_key_b64_der"]
    assert "+" in raw
    inbound = open_inbound(f"sendgrid://SG.key?webhook_public_key={raw}")
    assert isinstance(inbound, SendgridInbound)


@pytest.mark.parametrize(
    "key",
    [
        "not-a-key",
        base64.b64encode(b"\x30\x03\x02\x01\x01").decode(),
        # A P-384 public key: SendGrid signs with P-256 only.
        base64.b64encode(
            generate_private_key(SECP384R1())
            .public_key()
            .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        ).decode(),
    ],
    ids=["garbage", "not-a-public-key", "p384"],
)
def test_a_bad_public_key_fails_at_start_up_without_echoing_it(key: str) -> None:
    """The URL is refused, and the message does not repeat what was given."""
    with pytest.raises(ProviderConfigError, match="webhook_public_key") as caught:
        open_inbound(url(key))
    assert key not in str(caught.value)


def test_missing_secrets_name_the_option() -> None:
    """What `postroom webhooks urls` reports for a SendGrid URL without its key."""
    assert missing_secrets("sendgrid://SG.key") == ["webhook_public_key"]
    assert missing_secrets(url()) == []
