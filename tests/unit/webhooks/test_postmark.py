"""PostmarkInbound: Postmark's webhooks, authenticated by basic auth, then parsed.

The cases are tests/data/conformance/events/postmark.json (django-anymail's Postmark webhook
tests). Postmark signs nothing (signatures.json "postmark"): each case is posted with the
credentials the hook URL carries.
"""

import base64
import json
from typing import Any

import pytest

from postroom.domain.events import EventType
from postroom.providers import ProviderConfigError
from postroom.providers._http import HttpReply
from postroom.providers.postmark import PostmarkProvider
from postroom.providers.webhooks import missing_secrets, open_inbound
from postroom.providers.webhooks.base import Received, WebhookRequest
from postroom.providers.webhooks.postmark import PostmarkInbound, credentials_match, parse_events
from tests.conftest import conformance
from tests.support.webhooks import expected_of, refused, summary

EVENTS = conformance("events/postmark.json")
CASES = {case["id"]: case for case in EVENTS["cases"]}
USER, PASSWORD = "postmark", "s3cret:with-colon"
URL = f"postmark://server-token?webhook_user={USER}&webhook_password=s3cret%3Awith-colon"
NOW = 1_700_000_000.0
POSTROOM_ID = "01890f2e-7c4a-7b3e-9d2f-3a4b5c6d7e8f"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def posted(body: bytes, authorization: str | None = None) -> WebhookRequest:
    """`body` as Postmark posts it to a hook URL carrying our credentials."""
    headers = {"content-type": "application/json"}
    headers["authorization"] = basic(USER, PASSWORD) if authorization is None else authorization
    return WebhookRequest(headers, body, NOW)


async def receive(case: dict[str, Any]) -> Received:
    return await PostmarkInbound.from_url(URL).receive(posted(case["body"].encode()))


# -- the conformance cases


@pytest.mark.parametrize("case_id", sorted(CASES))
async def test_every_case_gives_its_expected_events(case_id: str) -> None:
    """Each case, posted with the right credentials, gives the events `expected` lists."""
    received = await receive(CASES[case_id])
    assert [summary(event) for event in received.events] == expected_of(CASES[case_id])
    assert received.replay is None


async def test_metadata_carries_the_correlation_id() -> None:
    """Metadata.postroom_id is the email's id."""
    record = json.loads(CASES["postmark-02"]["body"])
    record["Metadata"]["postroom_id"] = POSTROOM_ID
    [event] = parse_events(json.dumps(record).encode())
    assert event.correlation_id == POSTROOM_ID


def test_details_are_described_without_addresses() -> None:
    """The receiving server's words come first, with the address masked."""
    record = json.loads(CASES["postmark-01"]["body"])
    record["Details"] = "smtp;550 5.1.1 <bounce@example.com>: Recipient address rejected"
    [event] = parse_events(json.dumps(record).encode())
    assert event.description == "smtp;550 5.1.1 <address>: Recipient address rejected"


def test_the_digest_is_of_the_exact_body() -> None:
    """Records without an ID are keyed by the hash of the bytes posted."""
    body = CASES["postmark-02"]["body"].encode()
    [event] = parse_events(body)
    assert (event.event_id, event.digest) == (None, parse_events(body)[0].digest)
    assert parse_events(body + b" ")[0].digest != event.digest


@pytest.mark.parametrize(
    ("bounce_type", "event_type", "bounce"),
    [
        ("Transient", EventType.DEFERRED, "soft"),
        ("DnsError", EventType.DEFERRED, "soft"),
        ("BadEmailAddress", EventType.REJECTED, None),
        ("SomethingNew", EventType.BOUNCED, None),
    ],
)
def test_a_bounce_is_classified_by_its_type(
    bounce_type: str, event_type: EventType, bounce: str | None
) -> None:
    """Postmark's bounce Type decides the event and whether the failure may pass."""
    record = json.loads(CASES["postmark-01"]["body"])
    record["Type"] = bounce_type
    [event] = parse_events(json.dumps(record).encode())
    assert (event.type, event.bounce and event.bounce.value) == (event_type, bounce)


def test_an_unknown_record_type_is_recorded_as_unknown() -> None:
    """A record type this vocabulary has no word for changes nothing, but is kept."""
    [event] = parse_events(b'{"RecordType": "SomethingNew", "MessageID": "m-1"}')
    assert (event.type, event.provider_message_id) == (EventType.UNKNOWN, "m-1")


# -- refusals


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        basic(USER, "wrong"),
        basic("someone", PASSWORD),
        basic(USER, PASSWORD + "x"),
        "Bearer " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
        "Basic not*base64",
        "Basic",
    ],
    ids=["none", "wrong-password", "wrong-user", "longer", "not-basic", "not-base64", "empty"],
)
async def test_wrong_or_missing_credentials_are_refused(authorization: str) -> None:
    """Anything but the configured pair: 401 "auth", and nothing else said."""
    webhook = posted(CASES["postmark-01"]["body"].encode(), authorization)
    error = await refused(PostmarkInbound.from_url(URL), webhook)
    assert (error.status, error.code, str(error)) == (401, "auth", "auth")


def test_credentials_are_compared_whole() -> None:
    """The scheme's case does not matter; the pair must match exactly."""
    expected = f"{USER}:{PASSWORD}".encode()
    assert credentials_match(expected, basic(USER, PASSWORD).replace("Basic", "basic"))
    assert not credentials_match(expected, basic(USER, PASSWORD[:-1]))


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe{}", b"[]", b'[{"RecordType": "Delivery"}]', b"null", b"[" * 100_000],
    ids=["bad-json", "not-utf8", "array", "batch", "null", "deep"],
)
async def test_a_malformed_body_is_refused(body: bytes) -> None:
    """Authenticated, but not one JSON object: 400 "malformed"."""
    error = await refused(PostmarkInbound.from_url(URL), posted(body))
    assert (error.status, error.code, str(error)) == (400, "malformed", "malformed")


@pytest.mark.parametrize(
    "configured",
    [
        "postmark://server-token",
        f"postmark://server-token?webhook_user={USER}",
        "postmark://server-token?webhook_password=s3cret",
    ],
    ids=["none", "user-only", "password-only"],
)
async def test_without_both_credentials_every_request_is_refused(configured: str) -> None:
    """Half a pair is no pair: the endpoint accepts nothing, whatever is sent."""
    inbound = PostmarkInbound.from_url(configured)
    for authorization in (basic(USER, PASSWORD), basic(USER, ""), basic("", "s3cret"), ""):
        webhook = posted(CASES["postmark-01"]["body"].encode(), authorization)
        assert (await refused(inbound, webhook)).status == 401


# -- configuration


def test_one_url_configures_both_directions() -> None:
    """The sending URL with name= and the credentials opens a named inbound endpoint."""
    inbound = open_inbound(f"{URL}&name=pm-2&message_stream=outbound")
    assert inbound is not None
    assert (inbound.kind, inbound.name) == ("postmark", "pm-2")
    assert PASSWORD not in repr(inbound)
    sender = PostmarkProvider.from_url(f"{URL}&name=pm-2")
    body = b'{"ErrorCode": 0, "Message": "OK", "MessageID": "b7bc2f4a"}'
    assert sender.parse(HttpReply(200, {}, body)).provider == "pm-2"


def test_missing_secrets_name_each_option() -> None:
    """What `postroom webhooks urls` reports for a Postmark URL without credentials."""
    assert missing_secrets("postmark://server-token") == ["webhook_user", "webhook_password"]
    assert missing_secrets(URL) == []


def test_a_typo_in_a_webhook_option_fails_at_start_up() -> None:
    """An unknown option is refused, naming it and the known ones."""
    with pytest.raises(ProviderConfigError, match="webhook_pasword"):
        open_inbound("postmark://server-token?webhook_pasword=x")
