"""The failover router, table-driven: each row is a situation and the decision it must give."""

import pytest

from postroom.domain.circuit import Circuit, CircuitState, Failure
from postroom.domain.retry import RetryPolicy
from postroom.domain.router import Action, Attempt, Decision, after_failure, next_step

NOW = 1000.0
POLICY = RetryPolicy(base_delay=10, max_delay=600, max_attempts=5, max_age=3600)
UP = Circuit()
DOWN = Circuit(CircuitState.OPEN, 5, NOW + 30)


@pytest.mark.parametrize(
    ("circuits", "tried", "expected"),
    [
        ([UP, UP, UP], set(), 0),
        ([DOWN, UP, UP], set(), 1),
        ([UP, UP, UP], {0}, 1),
        ([UP, DOWN, UP], {0}, 2),
        ([DOWN, DOWN, UP], set(), 2),
    ],
)
def test_sends_through_first_available_untried(
    circuits: list[Circuit], tried: set[int], expected: int
) -> None:
    """Priority order, skipping open circuits and providers this attempt already tried."""
    decision = next_step(Attempt(1, 0.0, frozenset(tried)), circuits, NOW, POLICY, 0.5)
    assert decision == Decision(Action.SEND, provider=expected)


@pytest.mark.parametrize(
    ("attempt", "rand", "expected_delay"),
    [(1, 0.0, 5.0), (1, 1.0, 10.0), (2, 0.5, 15.0), (3, 0.0, 20.0), (4, 0.99, 79.6)],
)
def test_no_provider_left_retries_with_backoff(
    attempt: int, rand: float, expected_delay: float
) -> None:
    """Exponential backoff with jitter: half the ceiling plus up to half again."""
    decision = next_step(Attempt(attempt, 60.0, frozenset({0, 1})), [UP, UP], NOW, POLICY, rand)
    assert decision.action is Action.RETRY
    assert decision.at == pytest.approx(NOW + expected_delay)


def test_retry_waits_at_least_the_longest_retry_after() -> None:
    """A provider's Retry-After is honoured even when the backoff would be shorter."""
    decision = next_step(
        Attempt(1, 0.0, frozenset({0}), retry_after=120.0), [DOWN], NOW, POLICY, 0.0
    )
    assert (decision.action, decision.at) == (Action.RETRY, NOW + 120.0)


@pytest.mark.parametrize(("attempt", "age"), [(5, 10.0), (2, 3600.0)])
def test_gives_up_after_max_attempts_or_age(attempt: int, age: float) -> None:
    """The last attempt with no provider left dead-letters the email with the last reason."""
    state = Attempt(attempt, age, frozenset({0}), last_reason="mailgun: http_503")
    decision = next_step(state, [UP], NOW, POLICY, 0.5)
    assert decision.action is Action.FAIL
    assert decision.reason.endswith("mailgun: http_503")
    assert decision.provider == -1


@pytest.mark.parametrize("failure", [Failure.DOWN, Failure.THROTTLED, Failure.MISCONFIGURED])
def test_transient_failures_fail_over(failure: Failure) -> None:
    """Down, throttled and misconfigured providers are marked tried; the attempt goes on."""
    result = after_failure(Attempt(1, 0.0), 0, failure, "mailgun: x", 7.0)
    assert result == Attempt(1, 0.0, frozenset({0}), 7.0, "mailgun: x")


def test_permanent_failure_ends_the_email_without_failover() -> None:
    """A refused email fails at once, naming the provider that refused it."""
    result = after_failure(
        Attempt(1, 0.0), 1, Failure.PERMANENT, "sendgrid: http_400: bad to", None
    )
    assert result == Decision(Action.FAIL, provider=1, reason="sendgrid: http_400: bad to")


def test_default_policy_survives_a_ten_minute_outage() -> None:
    """With the defaults, an outage of every provider for ten minutes dead-letters nothing."""
    policy = RetryPolicy()
    elapsed, attempt = 0.0, 1
    while elapsed < 600:
        assert not policy.gives_up(attempt, elapsed)
        elapsed += policy.delay(attempt, 1.0)
        attempt += 1
    assert not policy.gives_up(attempt, elapsed)


def test_unsupported_fails_over_and_fails_when_no_provider_can() -> None:
    """A provider that cannot express the email is skipped; when none can, the email fails."""
    step = after_failure(
        Attempt(1, 0.0), 0, Failure.UNSUPPORTED, "mailgun: unsupported: 4 tags", None
    )
    assert isinstance(step, Attempt)
    assert next_step(step, [UP, UP], NOW, POLICY, 0.5) == Decision(Action.SEND, provider=1)
    last = after_failure(step, 1, Failure.UNSUPPORTED, "postmark: unsupported: tags", None)
    assert isinstance(last, Attempt)
    decision = next_step(last, [UP, UP], NOW, POLICY, 0.5)
    assert decision.action is Action.FAIL
    assert "no provider can express" in decision.reason


def test_unsupported_and_down_mix_retries() -> None:
    """If one provider could not express it but another was down, a retry may still succeed."""
    step = after_failure(Attempt(1, 0.0), 0, Failure.UNSUPPORTED, "a", None)
    assert isinstance(step, Attempt)
    step = after_failure(step, 1, Failure.DOWN, "b", None)
    assert isinstance(step, Attempt)
    assert next_step(step, [UP, UP], NOW, POLICY, 0.5).action is Action.RETRY


def test_unknown_outcome_is_not_failed_over_but_retried_later() -> None:
    """A call that may have been accepted stops the attempt: a retry later, not a failover."""
    state = after_failure(
        Attempt(1, 0.0), 0, Failure.UNKNOWN, "mailgun: unknown timeout", retry_after=None
    )
    assert isinstance(state, Attempt)
    decision = next_step(state, [UP, UP], NOW, POLICY, 0.0)
    assert decision.action is Action.RETRY
    assert decision.at == pytest.approx(NOW + 5.0)
    assert decision.reason == "mailgun: unknown timeout"


def test_unknown_outcome_on_the_last_attempt_gives_up() -> None:
    """Out of attempts after an unknown outcome: the email fails, naming that outcome."""
    state = after_failure(Attempt(5, 0.0), 0, Failure.UNKNOWN, "mailgun: unknown timeout", None)
    assert isinstance(state, Attempt)
    decision = next_step(state, [UP, UP], NOW, POLICY, 0.0)
    assert decision.action is Action.FAIL
    assert decision.reason.endswith("mailgun: unknown timeout")


@pytest.mark.parametrize(
    ("circuits", "paused", "expected"),
    [
        ([UP, UP], {0}, 1),
        ([UP, UP, UP], {0, 1}, 2),
        ([DOWN, UP, UP], {1}, 2),
        ([Circuit(CircuitState.OPEN, 5, NOW - 1), UP], {0}, 1),
    ],
)
def test_a_paused_provider_is_skipped_like_an_open_circuit(
    circuits: list[Circuit], paused: set[int], expected: int
) -> None:
    """Paused providers are passed over in priority order, even one whose circuit would let a
    half-open probe through (an OPEN circuit past its time): a pause is never probed."""
    decision = next_step(Attempt(1, 0.0), circuits, NOW, POLICY, 0.5, frozenset(paused))
    assert decision == Decision(Action.SEND, provider=expected)


def test_every_provider_paused_retries_with_backoff() -> None:
    """Nothing to send through: the email is given back for later, never failed."""
    decision = next_step(Attempt(1, 0.0), [UP, UP], NOW, POLICY, 0.0, frozenset({0, 1}))
    assert (decision.action, decision.at, decision.reason) == (Action.RETRY, NOW + 5.0, "paused")


@pytest.mark.parametrize(("attempt", "age"), [(5, 10.0), (40, 10.0), (2, 3600.0), (9, 1e6)])
def test_a_pause_never_dead_letters(attempt: int, age: float) -> None:
    """Out of attempts or age, an email that a paused provider could still take is retried,
    not dead-lettered; the retry keeps the reasons of the providers that failed."""
    state = Attempt(attempt, age, frozenset({1}), last_reason="sendgrid: down http_503")
    decision = next_step(state, [UP, UP], NOW, POLICY, 0.5, frozenset({0}))
    assert decision.action is Action.RETRY
    assert decision.reason == "sendgrid: down http_503"


def test_out_of_attempts_with_the_paused_provider_tried_gives_up() -> None:
    """A provider paused after it failed in this attempt does not hold the email back."""
    state = Attempt(5, 10.0, frozenset({0, 1}), last_reason="mailgun: down; sendgrid: down")
    decision = next_step(state, [UP, UP], NOW, POLICY, 0.5, frozenset({0}))
    assert decision.action is Action.FAIL


def test_an_unknown_outcome_on_the_last_attempt_gives_up_even_with_a_pause() -> None:
    """The attempt ended on an unknown outcome, not on the pause: given up as without one."""
    state = Attempt(5, 10.0, frozenset({0}), last_reason="mailgun: unknown", unknown=True)
    decision = next_step(state, [UP, UP], NOW, POLICY, 0.5, frozenset({1}))
    assert decision.action is Action.FAIL


def test_a_paused_provider_is_never_sent_through_after_an_unknown_outcome() -> None:
    """Unknown outcome still means no failover, paused providers or not."""
    state = Attempt(1, 0.0, frozenset({0}), unknown=True)
    decision = next_step(state, [UP, UP], NOW, POLICY, 0.5, frozenset({0}))
    assert decision.action is Action.RETRY
