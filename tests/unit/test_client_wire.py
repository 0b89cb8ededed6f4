"""The client's pure parts: error answers to exceptions, Retry-After, when to retry, requests
as sent, and verify_webhook against the spec's own signer."""

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import standardwebhooks

from postroom.client import (
    ConnectionFailedError,
    InvalidEmailError,
    PostroomError,
    RateLimitedError,
    UnavailableError,
    WebhookVerificationError,
    verify_webhook,
    wire,
)
from postroom.client.errors import error_from
from postroom.client.wire import Answer


def test_the_envelope_becomes_the_error_fields() -> None:
    body = (
        b'{"status":"BAD_REQUEST","message":{"short":"Invalid email","long":"see errors"},'
        b'"errors":{"to[0]":"not a valid email address"}}'
    )
    error = error_from(400, body, None)
    assert isinstance(error, InvalidEmailError)
    assert (error.status, error.code, error.title, error.message) == (
        400,
        "BAD_REQUEST",
        "Invalid email",
        "see errors",
    )
    assert error.errors == {"to[0]": "not a valid email address"}


def test_an_answer_without_the_envelope_is_still_an_error_of_its_status() -> None:
    error = error_from(502, b"<html>Bad Gateway</html>", None)
    assert type(error) is PostroomError
    assert (error.status, error.title) == (502, "HTTP 502")
    assert "Bad Gateway" in error.message
    assert isinstance(error_from(503, b"", 5.0), UnavailableError)


def test_retry_after_takes_seconds_or_a_date() -> None:
    assert wire.retry_after("7") == 7.0
    assert wire.retry_after(None) is None
    assert wire.retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (wire.retry_after(later) or 0) <= 31


def test_what_is_retried_and_how_long_it_waits() -> None:
    busy = UnavailableError(503, "Busy", "", retry_after=3.0)
    assert wire.retry_delay(busy, 0, 2) == 3.0
    assert wire.retry_delay(busy, 2, 2) is None  # out of retries
    quota = RateLimitedError(429, "Over quota", "", retry_after=3600.0)
    assert wire.retry_delay(quota, 0, 2) is None  # too long to wait for
    delay = wire.retry_delay(ConnectionFailedError("reset"), 1, 2)
    assert delay is not None
    assert 0.5 <= delay <= 1.0
    assert wire.retry_delay(InvalidEmailError(400, "Invalid", ""), 0, 2) is None


def test_requests_as_sent() -> None:
    send = wire.send({"to": "ann@example.org"}, "key-1")
    assert (send.method, send.path, send.idempotency_key) == ("POST", "/api/v1/email", "key-1")
    headers = wire.headers("pr_abc", send)
    assert headers["Authorization"] == "Bearer pr_abc"
    assert headers["Idempotency-Key"] == "key-1"
    assert headers["Content-Type"] == "application/json"
    assert (
        wire.suppression("ann+x@example.org").path == "/api/v1/suppressions/ann%2Bx%40example.org"
    )
    removal = wire.suppressions_remove("a@example.org", "news letter")
    assert removal.path == "/api/v1/suppressions/a%40example.org?scope=news+letter"
    assert (
        wire.suppressions_page(None, 5, "c/1").path == "/api/v1/suppressions?limit=5&cursor=c%2F1"
    )


def test_a_success_that_is_not_json_is_an_error() -> None:
    with pytest.raises(PostroomError, match="not JSON"):
        wire.result(Answer(200, None, b"<html>"))


@pytest.mark.parametrize("base", ["ftp://example.com", "example.com", "http://"])
def test_a_base_url_must_be_http_with_a_host(base: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        wire.Base.parse(base)


def test_a_base_url_may_have_a_path_prefix() -> None:
    base = wire.Base.parse("https://mail.example.com/postroom/")
    assert base.url("/api/v1/email") == "https://mail.example.com/postroom/api/v1/email"


def test_verify_webhook_accepts_what_the_spec_library_signs() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"type":"email.delivered"}'
    now = int(time.time())
    signature = standardwebhooks.Webhook(secret).sign(
        "msg_1", datetime.fromtimestamp(now, UTC), body.decode()
    )
    headers = {"Webhook-Id": "msg_1", "Webhook-Timestamp": str(now), "Webhook-Signature": signature}
    assert verify_webhook(headers, body, secret) == "msg_1"
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, body + b"\n", secret)
    stale = {**headers, "Webhook-Timestamp": str(now - 3600)}
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(stale, body, secret)
