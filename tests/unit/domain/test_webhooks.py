"""Webhooks out, the pure part: the retry schedule, what an answer decides, Retry-After."""

import json
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postroom.domain.rules import rfc3339
from postroom.domain.webhooks import (
    DISABLE_AFTER,
    EMAIL_TYPES,
    ENDPOINT_DISABLED,
    JITTER,
    MAX_RETRY_AFTER,
    SCHEDULE,
    TEST,
    judge,
    next_delay,
    parse_retry_after,
    payload,
    unknown_types,
)

NOW = 1_800_000_000.0


def test_the_schedule_is_svixs() -> None:
    assert SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)


@pytest.mark.parametrize("attempts", range(1, len(SCHEDULE)))
def test_each_wait_is_the_schedules_within_the_jitter(attempts: int) -> None:
    base = SCHEDULE[attempts]
    low, high = next_delay(attempts, 0.0), next_delay(attempts, 0.999999)
    assert low is not None
    assert high is not None
    assert low == pytest.approx(base * (1 - JITTER))
    assert high == pytest.approx(base * (1 + JITTER), rel=1e-5)


def test_the_schedule_ends_after_its_last_attempt() -> None:
    assert next_delay(len(SCHEDULE), 0.5) is None
    assert next_delay(1, 0.5, schedule=(0,)) is None


@given(st.floats(0, 1e9), st.integers(1, len(SCHEDULE) - 1), st.floats(0, 0.999))
def test_retry_after_lengthens_a_wait_and_never_shortens_it(
    after: float, attempts: int, rand: float
) -> None:
    plain = next_delay(attempts, rand)
    asked = next_delay(attempts, rand, retry_after=after)
    assert plain is not None
    assert asked is not None
    assert asked == max(plain, min(after, MAX_RETRY_AFTER))


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_a_2xx_delivers(status: int) -> None:
    assert judge(status, NOW, NOW - DISABLE_AFTER * 2).delivered


@pytest.mark.parametrize("status", [0, 301, 400, 404, 429, 500, 503])
def test_other_answers_fail_without_disabling_early(status: int) -> None:
    verdict = judge(status, NOW, NOW - DISABLE_AFTER + 1)
    assert not verdict.delivered
    assert not verdict.disable_reason


def test_410_disables_at_once() -> None:
    assert "410" in judge(410, NOW, None).disable_reason


def test_five_days_of_failures_disable() -> None:
    assert judge(500, NOW, NOW - DISABLE_AFTER).disable_reason == "every attempt failed for 5 days"
    assert not judge(500, NOW, None).disable_reason


def test_retry_after_as_seconds_or_a_date() -> None:
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after(formatdate(NOW + 60, usegmt=True), NOW) == pytest.approx(60)
    assert parse_retry_after(formatdate(NOW - 60, usegmt=True), NOW) == 0
    for nonsense in (None, "", "soon", "-5", "1e9"):
        assert parse_retry_after(nonsense, NOW) == 0


def test_event_types() -> None:
    assert "email.bounced" in EMAIL_TYPES
    assert "email.unknown" not in EMAIL_TYPES
    assert unknown_types(["email.bounced", TEST, ENDPOINT_DISABLED]) == []
    assert unknown_types(["email.nope", "bounced"]) == ["email.nope", "bounced"]


def test_the_payload_is_the_envelope_with_rfc3339_milliseconds() -> None:
    body = json.loads(payload("email.bounced", 1_700_000_000.25, {"id": "evt_1"}))
    assert body == {
        "type": "email.bounced",
        "timestamp": "2023-11-14T22:13:20.250Z",
        "data": {"id": "evt_1"},
    }
    assert rfc3339(0) == "1970-01-01T00:00:00.000Z"
