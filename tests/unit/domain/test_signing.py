"""Standard Webhooks signatures: the spec's vectors, and the spec's own Python library as the
receiver (and the sender) we did not write."""

import base64
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks

from postroom.domain.signing import (
    WebhookVerificationError,
    new_secret,
    secret_key,
    sign,
    signature_header,
    verify,
)

VECTORS_FILE = Path(__file__).parents[2] / "data" / "conformance" / "events" / "signatures.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["standard_webhooks"]["vectors"]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
BODY = b'{"type":"email.sent","data":{"id":"019a2237"}}'


def _verdict(vector: dict[str, Any]) -> bool:
    try:
        verify(vector["secret"], vector["headers"], vector["payload"], now=vector["timestamp"])
    except WebhookVerificationError:
        return False
    return True


def test_every_vector_is_read() -> None:
    """The file holds sw-01 to sw-11, so the parametrised test below covers each of them."""
    assert [vector["id"] for vector in VECTORS] == [f"sw-{n:02}" for n in range(1, 12)]


@pytest.mark.parametrize("vector", VECTORS, ids=[vector["id"] for vector in VECTORS])
def test_vector_gives_its_expected_result(vector: dict[str, Any]) -> None:
    """Each vector verifies, or is refused, as the spec's libraries decide, at its own time."""
    assert _verdict(vector) is vector["expected_valid"]


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS if v["expected_valid"]], ids=lambda v: v["id"]
)
def test_valid_vectors_are_signed_the_same_way(vector: dict[str, Any]) -> None:
    """Signing the vector's message gives one of the entries its header lists."""
    entry = sign(vector["secret"], vector["msg_id"], vector["timestamp"], vector["payload"])
    assert entry in vector["headers"]["webhook-signature"].split(" ")
    content = f"{vector['msg_id']}.{vector['timestamp']}.{vector['payload']}"
    assert content == vector["signed_content"]


def test_new_secret_is_prefixed_base64_of_the_bytes_given() -> None:
    random = bytes(range(32))
    secret = new_secret(random)
    assert secret.startswith("whsec_")
    assert base64.b64decode(secret.removeprefix("whsec_")) == random
    assert secret_key(secret) == random
    assert new_secret(bytes(24)) != new_secret(bytes(64))


@pytest.mark.parametrize("size", [0, 23, 65])
def test_new_secret_refuses_too_few_or_too_many_bytes(size: int) -> None:
    with pytest.raises(ValueError, match="24 to 64"):
        new_secret(bytes(size))


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_not base64!", "whsec_A"])
def test_a_secret_that_is_not_base64_is_a_configuration_error(secret: str) -> None:
    """Refused as a ValueError that is not a verification failure, at signing and verifying."""
    with pytest.raises(ValueError, match="webhook secret") as refused:
        sign(secret, "msg_1", 1, BODY)
    assert not isinstance(refused.value, WebhookVerificationError)
    with pytest.raises(ValueError, match="webhook secret"):
        verify(secret, {}, BODY, now=1)


@pytest.mark.parametrize(("msg_id", "timestamp"), [("", 1), ("msg.1", 1), ("msg_1", -1)])
def test_sign_refuses_ids_and_timestamps_that_would_split_another_way(
    msg_id: str, timestamp: int
) -> None:
    with pytest.raises(ValueError, match="webhook"):
        sign(SECRET, msg_id, timestamp, BODY)


def _headers(
    signature: str, msg_id: str = "msg_1", timestamp: int = 1_700_000_000
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_verify_answers_the_message_id() -> None:
    headers = _headers(sign(SECRET, "msg_1", 1_700_000_000, BODY))
    assert verify(SECRET, headers, BODY, now=1_700_000_000) == "msg_1"


def test_header_names_are_read_in_any_case() -> None:
    signature = sign(SECRET, "msg_1", 1_700_000_000, BODY)
    headers = {
        "Webhook-Id": "msg_1",
        "WEBHOOK-TIMESTAMP": "1700000000",
        "webhook-Signature": signature,
    }
    assert verify(SECRET, headers, BODY, now=1_700_000_000) == "msg_1"


@pytest.mark.parametrize(
    ("offset", "verdict"), [(-301, "too new"), (-300, None), (300, None), (301, "too old")]
)
def test_timestamps_beyond_five_minutes_either_way_are_refused(
    offset: int, verdict: str | None
) -> None:
    """`offset` is the receiver's clock minus the timestamp; exactly 300 s still passes."""
    headers = _headers(sign(SECRET, "msg_1", 1_700_000_000, BODY))
    now = 1_700_000_000 + offset
    if verdict is None:
        assert verify(SECRET, headers, BODY, now=now) == "msg_1"
    else:
        with pytest.raises(WebhookVerificationError, match=verdict):
            verify(SECRET, headers, BODY, now=now)


def test_the_tolerance_can_be_changed() -> None:
    headers = _headers(sign(SECRET, "msg_1", 1_700_000_000, BODY))
    assert verify(SECRET, headers, BODY, now=1_700_003_000, tolerance=3600) == "msg_1"
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(SECRET, headers, BODY, now=1_700_000_011, tolerance=10)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_or_empty_header_is_named(missing: str) -> None:
    headers = _headers(sign(SECRET, "msg_1", 1_700_000_000, BODY))
    without = {name: value for name, value in headers.items() if name != missing}
    with pytest.raises(WebhookVerificationError, match=f"missing header {missing}"):
        verify(SECRET, without, BODY, now=1_700_000_000)
    with pytest.raises(WebhookVerificationError, match=f"missing header {missing}"):
        verify(SECRET, {**headers, missing: ""}, BODY, now=1_700_000_000)


@pytest.mark.parametrize("timestamp", ["1700000000.5", "-1700000000", "17e8", " 1700000000"])
def test_a_timestamp_that_is_not_integer_seconds_is_refused(timestamp: str) -> None:
    headers = {
        **_headers(sign(SECRET, "msg_1", 1_700_000_000, BODY)),
        "webhook-timestamp": timestamp,
    }
    with pytest.raises(WebhookVerificationError, match="integer"):
        verify(SECRET, headers, BODY, now=1_700_000_000)


@pytest.mark.parametrize(
    "signature",
    ["v1,", "v1", "", "v1,not base64!", "v1a,{good}", "v2,{good}", "V1,{good}", "{good}"],
)
def test_malformed_and_foreign_entries_match_nothing(signature: str) -> None:
    good = sign(SECRET, "msg_1", 1_700_000_000, BODY).removeprefix("v1,")
    headers = _headers(signature.format(good=good) or " ")
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, headers, BODY, now=1_700_000_000)


def test_a_rotation_signs_with_each_secret_and_either_receiver_accepts() -> None:
    header = signature_header([SECRET, OTHER], "msg_1", 1_700_000_000, BODY)
    entries = header.split(" ")
    assert entries == [sign(s, "msg_1", 1_700_000_000, BODY) for s in (SECRET, OTHER)]
    for secret in (SECRET, OTHER, [OTHER, SECRET]):
        assert verify(secret, _headers(header), BODY, now=1_700_000_000) == "msg_1"
    third = new_secret(bytes(range(40)))
    with pytest.raises(WebhookVerificationError, match="no matching"):
        verify(third, _headers(header), BODY, now=1_700_000_000)


def test_a_receiver_holding_both_secrets_accepts_either_sender() -> None:
    header = signature_header(OTHER, "msg_1", 1_700_000_000, BODY)
    assert verify([SECRET, OTHER], _headers(header), BODY, now=1_700_000_000) == "msg_1"


def test_no_secret_at_all_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        signature_header([], "msg_1", 1, BODY)
    with pytest.raises(ValueError, match="at least one"):
        verify([], _headers("v1,x"), BODY, now=1)


def test_a_text_body_is_signed_as_its_utf8_bytes() -> None:
    text = '{"subject":"Grüße"}'
    assert sign(SECRET, "msg_1", 1, text) == sign(SECRET, "msg_1", 1, text.encode("utf-8"))


def test_one_changed_byte_of_the_body_is_refused() -> None:
    headers = _headers(sign(SECRET, "msg_1", 1_700_000_000, BODY))
    with pytest.raises(WebhookVerificationError, match="no matching"):
        verify(SECRET, headers, BODY.replace(b"sent", b"Sent"), now=1_700_000_000)


# The spec's library checks the timestamp against its own clock, so these sign at the real time.


@pytest.mark.parametrize(
    "secret", [SECRET, SECRET.removeprefix("whsec_"), OTHER, "whsec_" + "A" * 86]
)
def test_our_signatures_verify_with_the_standard_webhooks_library(secret: str) -> None:
    now = int(time.time())
    theirs = standardwebhooks.Webhook(secret)
    header = signature_header(
        [new_secret(bytes(32)), secret], "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now, BODY
    )
    headers = _headers(header, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now)
    assert theirs.verify(BODY, headers) == json.loads(BODY)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        theirs.verify(BODY + b" ", headers)


@pytest.mark.parametrize(
    "secret", [SECRET, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", new_secret(bytes(range(64)))]
)
def test_their_signatures_verify_with_ours(secret: str) -> None:
    now = int(time.time())
    theirs = standardwebhooks.Webhook(secret)
    signature = theirs.sign("msg_1", datetime.fromtimestamp(now, UTC), BODY.decode())
    headers = _headers(signature, "msg_1", now)
    assert verify(secret, headers, BODY, now=time.time()) == "msg_1"
    assert sign(secret, "msg_1", now, BODY) == signature
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, BODY + b" ", now=time.time())


def test_what_the_library_refuses_we_refuse() -> None:
    """Stale and future timestamps, as its own tests make them: now -/+ 5 min - 1 s."""
    now = int(time.time())
    theirs = standardwebhooks.Webhook(SECRET)
    for timestamp in (now - 301, now + 301):
        headers = _headers(sign(SECRET, "msg_1", timestamp, BODY), "msg_1", timestamp)
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            theirs.verify(BODY, headers)
        with pytest.raises(WebhookVerificationError):
            verify(SECRET, headers, BODY, now=now)
