"""Amazon SES events through SNS (providers/webhooks/ses.py): the conformance cases, the SNS
signature vectors, subscriptions, and what is refused.

anymail's envelopes carry placeholder signatures, so the tests sign them again with the
throwaway key A of signatures.json: every case goes through the real verification.
"""

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from postroom.domain.events import Bounce, EventType, ProviderEvent, digest_of
from postroom.providers.webhooks.base import Inbound, WebhookRefusedError, WebhookRequest
from postroom.providers.webhooks.ses import (
    FetchError,
    HttpFetch,
    SesInbound,
    envelope,
    string_to_sign,
)
from tests.conftest import conformance
from tests.support.server import free_port

CASES = conformance("events/amazon_ses.json")["cases"]
SNS = conformance("events/signatures.json")["sns"]
VECTORS = {vector["id"]: vector for vector in SNS["vectors"]}
KEY_A = SNS["certificates"]["throwaway_key_A"]
AWS_CERT = SNS["certificates"]["aws_sns_us_east_2_2021"]
KEY_A_URL = KEY_A["url_used_in_vectors"]
CERTIFICATES = {AWS_CERT["url"]: AWS_CERT["pem"].encode(), KEY_A_URL: KEY_A["pem"].encode()}
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"
# The one case signed for real (with key A); the others are signed again here.
SIGNED_AS_IS = {"amazon_ses-10"}
ALLOWED = {TOPIC} | {json.loads(c["body"]).get("TopicArn", TOPIC) for c in CASES}
NOW = 1_800_000_000.0


class FakeFetch:
    """GETs answered from a table and recorded; any other URL fails as the network would."""

    def __init__(self, answers: dict[str, bytes] | None = None) -> None:
        self.answers = CERTIFICATES if answers is None else answers
        self.calls: list[str] = []

    async def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        if url not in self.answers:
            raise FetchError("http_404")
        return self.answers[url]


def signed(fields: dict[str, Any], version: str = "1", cert_url: str = KEY_A_URL) -> bytes:
    """The envelope signed with key A as SNS signs one (missing a topic, it gets TOPIC)."""
    fields = {"TopicArn": TOPIC, **fields}
    fields |= {"SignatureVersion": version, "SigningCertURL": cert_url, "Signature": ""}
    key = serialization.load_pem_private_key(KEY_A["private_key_pem"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    # SignatureVersion 1 is SHA1withRSA: SNS's choice, not ours.
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303
    signature = key.sign(string_to_sign(envelope(fields)), padding.PKCS1v15(), algorithm)
    fields["Signature"] = base64.b64encode(signature).decode()
    return json.dumps(fields).encode()


def case(case_id: str) -> dict[str, Any]:
    return next(c for c in CASES if c["id"] == case_id)


def body_of(item: dict[str, Any]) -> bytes:
    """A case's body: as it is when really signed, else signed again with key A."""
    if item["id"] in SIGNED_AS_IS:
        return str(item["body"]).encode()
    return signed(json.loads(item["body"]))


def with_message(case_id: str, change: dict[str, Any] | None = None, **mail: Any) -> bytes:
    """A case's envelope, its SES event changed (top-level keys, then `mail` keys), signed."""
    fields = json.loads(case(case_id)["body"])
    event = json.loads(fields["Message"]) | (change or {})
    event["mail"] = event["mail"] | mail
    return signed(fields | {"Message": json.dumps(event)})


def request(body: bytes, headers: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(headers=headers or {}, body=body, now=NOW)


def described(event: ProviderEvent) -> dict[str, Any]:
    """The event in the terms of the conformance file (its README, "How to read expected")."""
    found = {
        "event_type": event.type.value,
        "recipient": event.recipient,
        "provider_message_id": event.provider_message_id,
        "timestamp": None if event.timestamp is None else int(event.timestamp),
        "event_id": event.event_id,
    }
    optional = {
        "reject_reason": event.reject_reason,
        "bounce": event.bounce,
        "click_url": event.click_url,
    }
    return found | {key: str(value) for key, value in optional.items() if value is not None}


async def refusal(inbound: SesInbound, body: bytes, **headers: str) -> tuple[int, str]:
    with pytest.raises(WebhookRefusedError) as refused:
        await inbound.receive(request(body, headers))
    return refused.value.status, refused.value.code


@pytest.mark.parametrize("item", CASES, ids=[c["id"] for c in CASES])
async def test_each_case_gives_its_expected_events(item: dict[str, Any]) -> None:
    """Each amazon_ses.json case: its events, and a GET of SubscribeURL where it says confirm."""
    control = item.get("sns_control") or {}
    confirms = [control["SubscribeURL"]] if control.get("action", "").startswith("confirm") else []
    fetch = FakeFetch(CERTIFICATES | dict.fromkeys(confirms, b"<ConfirmSubscriptionResponse/>"))
    body = body_of(item)
    received = await SesInbound(ALLOWED, fetch=fetch).receive(request(body, item["headers"]))
    expected = item["expected"] if isinstance(item["expected"], list) else [item["expected"]]
    assert [described(event) for event in received.events] == expected
    assert all(event.digest == digest_of(body) for event in received.events)
    assert [url for url in fetch.calls if url not in CERTIFICATES] == confirms


async def test_the_case_signed_with_key_a_verifies_as_it_is() -> None:
    """amazon_ses-10 verifies unchanged, and one changed byte of its Message does not."""
    inbound = SesInbound([TOPIC], fetch=FakeFetch())
    body = str(case("amazon_ses-10")["body"]).encode()
    assert (await inbound.verified(body))["MessageId"] == "3d75822a-60e6-599e-a50d-4ddbc8f0e454"
    tampered = body.replace(b"Unable to connect", b"Unable to connecT")
    assert await refusal(inbound, tampered) == (401, "signature")


@pytest.mark.parametrize("vector", VECTORS.values(), ids=list(VECTORS))
async def test_each_sns_vector_verifies_as_expected(vector: dict[str, Any]) -> None:
    """sns-01..18: the AWS-signed ones with AWS's certificate, the rest refused as 401."""
    body = str(vector["body"]).encode()
    inbound = SesInbound([json.loads(body)["TopicArn"]], fetch=FakeFetch())
    if vector["expected_valid"]:
        fields = await inbound.verified(body)
        assert fields["MessageId"] == json.loads(body)["MessageId"]
    else:
        with pytest.raises(WebhookRefusedError) as refused:
            await inbound.verified(body)
        assert (refused.value.status, refused.value.code) == (401, "signature")


@pytest.mark.parametrize("vector", VECTORS.values(), ids=list(VECTORS))
def test_the_string_to_sign_is_each_vectors(vector: dict[str, Any]) -> None:
    """The string to sign, byte for byte, as the vector gives it."""
    fields = envelope(json.loads(vector["body"]))
    assert string_to_sign(fields).decode() == vector["string_to_sign"]


@pytest.mark.parametrize("vector_id", ["sns-11", "sns-12", "sns-13", "sns-14"])
async def test_a_bad_certificate_url_is_refused_without_fetching(vector_id: str) -> None:
    """http, a foreign host, not .pem, an amazonaws.com host that is not SNS: nothing fetched."""
    fetch = FakeFetch()
    inbound = SesInbound(
        ALLOWED | {json.loads(VECTORS[vector_id]["body"])["TopicArn"]}, fetch=fetch
    )
    assert await refusal(inbound, str(VECTORS[vector_id]["body"]).encode()) == (401, "signature")
    assert fetch.calls == []


@pytest.mark.parametrize("vector_id", ["sns-15", "sns-16"])
async def test_a_signed_subscription_of_an_allowed_topic_is_confirmed(vector_id: str) -> None:
    """A GET of its SubscribeURL, after the certificate's; no events."""
    fetch = FakeFetch(CERTIFICATES | {_subscribe_url(vector_id): b"<ConfirmSubscriptionResponse/>"})
    inbound = SesInbound(["arn:aws:sns:us-west-2:123456789012:MyTopic"], fetch=fetch)
    received = await inbound.receive(request(str(VECTORS[vector_id]["body"]).encode()))
    assert received.events == []
    assert fetch.calls == [KEY_A_URL, _subscribe_url(vector_id)]


async def test_a_subscription_of_another_topic_is_not_confirmed() -> None:
    """Signed by SNS, but for a topic not in topic_arns: 403, SubscribeURL never fetched."""
    fetch = FakeFetch()
    assert await refusal(SesInbound([TOPIC], fetch=fetch), _vector_body("sns-15")) == (403, "topic")
    assert fetch.calls == [KEY_A_URL]


async def test_a_forged_subscribe_url_is_never_visited() -> None:
    """sns-18: SubscribeURL changed after signing: 401, the attacker's URL never fetched."""
    fetch = FakeFetch()
    inbound = SesInbound(["arn:aws:sns:us-west-2:123456789012:MyTopic"], fetch=fetch)
    assert await refusal(inbound, _vector_body("sns-18")) == (401, "signature")
    assert fetch.calls == [KEY_A_URL]


async def test_an_unsubscribe_confirmation_is_not_acted_on() -> None:
    """sns-17: valid, no events, and its SubscribeURL (which would subscribe again) unvisited."""
    fetch = FakeFetch()
    inbound = SesInbound(["arn:aws:sns:us-west-2:123456789012:MyTopic"], fetch=fetch)
    assert (await inbound.receive(request(_vector_body("sns-17")))).events == []
    assert fetch.calls == [KEY_A_URL]


async def test_an_empty_allowlist_refuses_everything() -> None:
    """No topic_arns: every envelope, notification or subscription, is refused as 403."""
    fetch = FakeFetch()
    inbound = SesInbound.from_url("ses://us-east-1", fetch=fetch)
    assert await refusal(inbound, body_of(case("amazon_ses-10"))) == (403, "topic")
    assert await refusal(inbound, _vector_body("sns-15")) == (403, "topic")
    assert fetch.calls == [KEY_A_URL]


async def test_a_certificate_is_fetched_once() -> None:
    """The second envelope signed by the same certificate is checked without a fetch."""
    fetch = FakeFetch()
    inbound = SesInbound([TOPIC], fetch=fetch)
    for _ in range(2):
        await inbound.receive(request(body_of(case("amazon_ses-10"))))
    assert fetch.calls == [KEY_A_URL]


async def test_the_certificate_cache_is_bounded() -> None:
    """With room for two, a third certificate drops the oldest, which is fetched again."""
    urls = [f"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-{n}.pem" for n in "abc"]
    fetch = FakeFetch(dict.fromkeys(urls, KEY_A["pem"].encode()))
    inbound = SesInbound([TOPIC], fetch=fetch, cache_size=2)
    fields = json.loads(case("amazon_ses-05")["body"])
    for url in [*urls, urls[0]]:
        await inbound.receive(request(signed(fields, cert_url=url)))
    assert fetch.calls == [*urls, urls[0]]


async def test_a_certificate_that_cannot_be_fetched_is_503() -> None:
    """SNS retries on 5xx only: a certificate fetch that failed must not drop the event."""
    inbound = SesInbound([TOPIC], fetch=FakeFetch({}))
    assert await refusal(inbound, body_of(case("amazon_ses-10"))) == (503, "unavailable")


async def test_a_confirmation_that_fails_is_503() -> None:
    """A SubscribeURL that does not answer 200: 503, so SNS sends the confirmation again."""
    inbound = SesInbound(["arn:aws:sns:us-west-2:123456789012:MyTopic"], fetch=FakeFetch())
    assert await refusal(inbound, _vector_body("sns-15")) == (503, "unavailable")


@pytest.mark.parametrize(
    "key",
    [
        "Message",
        "MessageId",
        "Timestamp",
        "TopicArn",
        "Type",
        "Signature",
        "SignatureVersion",
        "SigningCertURL",
    ],
)
async def test_an_envelope_missing_a_key_is_malformed(key: str) -> None:
    """Every key aws-php-sns-message-validator requires of a Notification."""
    fields = json.loads(case("amazon_ses-10")["body"])
    del fields[key]
    inbound = SesInbound([TOPIC], fetch=FakeFetch())
    assert await refusal(inbound, json.dumps(fields).encode()) == (400, "malformed")


@pytest.mark.parametrize("key", ["SubscribeURL", "Token"])
async def test_a_confirmation_missing_a_key_is_malformed(key: str) -> None:
    """A Subscription or UnsubscribeConfirmation also needs its SubscribeURL and Token."""
    fields = json.loads(VECTORS["sns-15"]["body"])
    del fields[key]
    inbound = SesInbound(["arn:aws:sns:us-west-2:123456789012:MyTopic"], fetch=FakeFetch())
    assert await refusal(inbound, json.dumps(fields).encode()) == (400, "malformed")


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'{"Type": "Other"}', b'{"Type": "Notification", "Message": 1}'],
)
async def test_a_body_that_is_no_sns_message_is_malformed(body: bytes) -> None:
    """400, and nothing fetched."""
    fetch = FakeFetch()
    assert await refusal(SesInbound([TOPIC], fetch=fetch), body) == (400, "malformed")
    assert fetch.calls == []


async def test_an_unsigned_raw_event_over_http_is_refused() -> None:
    """A bare SES event proves nothing; with raw delivery's header even an envelope is refused."""
    inbound = SesInbound([TOPIC], fetch=FakeFetch())
    raw = json.loads(case("amazon_ses-10")["body"])["Message"].encode()
    assert await refusal(inbound, raw) == (400, "malformed")
    raw_header = {"x-amz-sns-rawdelivery": "true"}
    assert await refusal(inbound, raw, **raw_header) == (401, "signature")
    assert await refusal(inbound, body_of(case("amazon_ses-10")), **raw_header) == (
        401,
        "signature",
    )


@pytest.mark.parametrize("message", ["Hello world", '{"no": "type"}', "[]"])
async def test_a_signed_message_that_is_no_ses_event_is_malformed(message: str) -> None:
    """Signed, allowed, but not an SES event: not understood, so 400."""
    fields = json.loads(case("amazon_ses-05")["body"]) | {"Message": message}
    assert await refusal(SesInbound([TOPIC], fetch=FakeFetch()), signed(fields)) == (
        400,
        "malformed",
    )


async def test_both_signature_versions_verify() -> None:
    """An envelope signed with SHA256withRSA (SignatureVersion 2) gives the same events."""
    fields = json.loads(case("amazon_ses-04")["body"])
    inbound = SesInbound([TOPIC], fetch=FakeFetch())
    one = await inbound.receive(request(signed(fields, version="1")))
    two = await inbound.receive(request(signed(fields, version="2")))
    assert [described(e) for e in one.events] == [described(e) for e in two.events]


async def test_the_email_id_comes_from_the_postroom_id_tag() -> None:
    """Postroom sends its id as the EmailTag postroom_id; SES returns it in mail.tags."""
    email_id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    body = with_message("amazon_ses-05", tags={"postroom_id": [email_id], "other": ["x"]})
    received = await SesInbound([TOPIC], fetch=FakeFetch()).receive(request(body))
    assert [event.correlation_id for event in received.events] == [email_id]


async def test_a_bounce_keeps_its_diagnostic_without_the_address() -> None:
    """The diagnosticCode as the description, the recipient's address masked."""
    received = await SesInbound(ALLOWED, fetch=FakeFetch()).receive(
        request(body_of(case("amazon_ses-01")))
    )
    [event] = received.events
    assert event.description == "smtp; 550 5.1.1 <address>... User unknown"


@pytest.mark.parametrize(
    ("bounce_type", "expected"),
    [("Permanent", Bounce.HARD), ("Transient", Bounce.SOFT), ("Undetermined", Bounce.SOFT)],
)
async def test_bounce_types(bounce_type: str, expected: Bounce) -> None:
    """Permanent is hard; Transient and Undetermined soft (SES suppresses on Permanent only)."""
    event = json.loads(json.loads(case("amazon_ses-02")["body"])["Message"])
    event["bounce"]["bounceType"] = bounce_type
    body = with_message("amazon_ses-02", {"bounce": event["bounce"]})
    received = await SesInbound([TOPIC], fetch=FakeFetch()).receive(request(body))
    assert [e.bounce for e in received.events] == [expected, expected]


async def test_a_complaint_keeps_its_feedback_type() -> None:
    """complaintFeedbackType as the description."""
    received = await SesInbound([TOPIC], fetch=FakeFetch()).receive(
        request(body_of(case("amazon_ses-03")))
    )
    assert [e.description for e in received.events] == ["abuse"]


@pytest.mark.parametrize(
    ("new", "old", "expected"),
    [
        ({"unsubscribeAll": True}, {}, EventType.UNSUBSCRIBED),
        (
            {"topicSubscriptionStatus": [{"topicName": "news", "subscriptionStatus": "OptOut"}]},
            {"topicSubscriptionStatus": [{"topicName": "news", "subscriptionStatus": "OptIn"}]},
            EventType.UNSUBSCRIBED,
        ),
        (
            {"topicSubscriptionStatus": [{"topicName": "news", "subscriptionStatus": "OptIn"}]},
            {"topicSubscriptionStatus": [{"topicName": "news", "subscriptionStatus": "OptOut"}]},
            EventType.SUBSCRIBED,
        ),
    ],
)
async def test_a_subscription_event(
    new: dict[str, Any], old: dict[str, Any], expected: EventType
) -> None:
    """SES's list-management Subscription event: unsubscribed when the recipient left."""
    event = {
        "eventType": "Subscription",
        "mail": {"messageId": "m-1", "destination": ["ann@example.com"]},
        "subscription": {
            "contactList": "list",
            "timestamp": "2022-01-12T01:00:17.910Z",
            "source": "UnsubscribeHeader",
            "newTopicPreferences": new,
            "oldTopicPreferences": old,
        },
    }
    received = await SesInbound([TOPIC], fetch=FakeFetch()).receive_queued(
        json.dumps(event).encode()
    )
    [found] = received.events
    assert (found.type, found.recipient, found.description) == (
        expected,
        "ann@example.com",
        "UnsubscribeHeader",
    )


async def test_an_event_type_not_known_is_recorded_as_unknown() -> None:
    """One unknown event per destination, the SES type as its description."""
    body = with_message("amazon_ses-05", {"eventType": "SomethingNew"})
    received = await SesInbound([TOPIC], fetch=FakeFetch()).receive(request(body))
    assert [(e.type, e.recipient, e.description) for e in received.events] == [
        (EventType.UNKNOWN, "recipient@example.com", "SomethingNew")
    ]


async def test_a_raw_queued_event_uses_its_own_time_and_digest() -> None:
    """A raw SES event from the queue: no SNS MessageId, so keyed by its bytes, at its time."""
    raw = json.loads(case("amazon_ses-10")["body"])["Message"].encode()
    received = await SesInbound([], fetch=FakeFetch()).receive_queued(raw)
    [event] = received.events
    assert (event.type, event.event_id, event.digest) == (EventType.DEFERRED, None, digest_of(raw))
    assert event.timestamp == pytest.approx(1592267140.095)


async def test_a_queued_envelope_is_verified_as_over_http() -> None:
    """An envelope from the queue gives what the POST gives; a forged one is refused."""
    inbound = SesInbound([TOPIC], fetch=FakeFetch())
    body = body_of(case("amazon_ses-10"))
    queued = await inbound.receive_queued(body)
    posted = await inbound.receive(request(body))
    assert queued.events == posted.events
    with pytest.raises(WebhookRefusedError):
        await inbound.receive_queued(body.replace(b"recipient@", b"somebody@"))


def test_the_url_names_topics_and_the_provider() -> None:
    """topic_arns= separated by commas, name= the configured provider's name."""
    url = f"ses://eu-west-1?name=ses-eu&topic_arns={TOPIC}, arn:aws:sns:eu-west-1:123456789012:b"
    inbound: Inbound = SesInbound.from_url(url, fetch=FakeFetch())
    assert isinstance(inbound, SesInbound)
    assert inbound.topic_arns == {TOPIC, "arn:aws:sns:eu-west-1:123456789012:b"}
    assert (inbound.kind, inbound.name, repr(inbound)) == ("ses", "ses-eu", "SesInbound(ses-eu)")
    with pytest.raises(ValueError, match="not an SNS topic ARN"):
        SesInbound.from_url("ses://eu-west-1?topic_arns=arn:aws:sqs:eu-west-1:1:q")


def _vector_body(vector_id: str) -> bytes:
    return str(VECTORS[vector_id]["body"]).encode()


def _subscribe_url(vector_id: str) -> str:
    return str(json.loads(VECTORS[vector_id]["body"])["SubscribeURL"])


# -- the default fetch, against a local server


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """Answers: a small body, a redirect, a big body (with and without a length), a 404."""

    async def streamed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(4):
            await response.write(b"x" * 16)
        return response

    app = web.Application()
    app.router.add_get("/cert.pem", _answering(lambda: web.Response(body=b"pem")))
    app.router.add_get(
        "/moved.pem",
        _answering(lambda: web.Response(status=302, headers={"Location": "/cert.pem"})),
    )
    app.router.add_get("/big.pem", _answering(lambda: web.Response(body=b"x" * 64)))
    app.router.add_get("/streamed.pem", streamed)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _answering(
    response: Callable[[], web.Response],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(_: web.Request) -> web.Response:
        return response()

    return handle


@pytest.fixture
async def http_fetch() -> AsyncIterator[HttpFetch]:
    fetch = HttpFetch(timeout=5, limit=32)
    try:
        yield fetch
    finally:
        await fetch.close()


async def test_the_default_fetch_returns_a_200s_body(server: str, http_fetch: HttpFetch) -> None:
    """The body of a 200 answer."""
    assert await http_fetch(f"{server}/cert.pem") == b"pem"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/moved.pem", "http_302"),
        ("/missing.pem", "http_404"),
        ("/big.pem", "too_large"),
        ("/streamed.pem", "too_large"),
    ],
)
async def test_the_default_fetch_refuses(
    server: str, http_fetch: HttpFetch, path: str, reason: str
) -> None:
    """No redirect followed, only 200, at most `limit` bytes whether announced or streamed."""
    with pytest.raises(FetchError, match=reason):
        await http_fetch(server + path)


async def test_the_default_fetch_fails_without_a_server(http_fetch: HttpFetch) -> None:
    """A refused connection is a FetchError too."""
    with pytest.raises(FetchError):
        await http_fetch(f"http://127.0.0.1:{free_port()}/cert.pem")


async def test_closing_the_inbound_closes_its_fetch(server: str) -> None:
    """An SesInbound made without `fetch` owns an HttpFetch, and closes its session."""
    inbound = SesInbound([TOPIC])
    assert await inbound._fetch(f"{server}/cert.pem") == b"pem"
    await inbound.close()
    owned = inbound._own_fetch
    assert owned is not None
    assert owned._session is not None
    assert owned._session.closed
