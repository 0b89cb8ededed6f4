"""Circuit breaker transitions, one row per case."""

import pytest

from postroom.domain.circuit import BreakerPolicy, Circuit, CircuitState, Failure

P = BreakerPolicy(threshold=3, cool_down=30, misconfigured_cool_down=300, throttle_pause=5)
CLOSED, OPEN, HALF = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN


@pytest.mark.parametrize(
    ("start", "failure", "retry_after", "expected"),
    [
        (Circuit(), Failure.DOWN, None, Circuit(CLOSED, 1, 0)),
        (Circuit(CLOSED, 2, 0), Failure.DOWN, None, Circuit(OPEN, 3, 130)),
        (Circuit(HALF, 3, 140), Failure.DOWN, None, Circuit(OPEN, 4, 130)),
        (Circuit(), Failure.UNKNOWN, None, Circuit(CLOSED, 1, 0)),
        (Circuit(CLOSED, 2, 0), Failure.UNKNOWN, None, Circuit(OPEN, 3, 130)),
        (Circuit(), Failure.MISCONFIGURED, None, Circuit(OPEN, 1, 400)),
        (Circuit(), Failure.THROTTLED, 12.0, Circuit(OPEN, 0, 112)),
        (Circuit(), Failure.THROTTLED, None, Circuit(OPEN, 0, 105)),
        (Circuit(CLOSED, 2, 0), Failure.PERMANENT, None, Circuit()),
    ],
)
def test_failure_transitions(
    start: Circuit, failure: Failure, retry_after: float | None, expected: Circuit
) -> None:
    """Down and unknown count toward the threshold; misconfigured and throttled open at once."""
    assert start.on_failure(failure, 100.0, P, retry_after) == expected


def test_open_circuit_half_opens_for_one_probe() -> None:
    """After the cool-down one attempt may probe; others wait until it settles or times out."""
    circuit = Circuit(OPEN, 3, 130)
    assert not circuit.available(129)
    assert circuit.available(130)
    probing = circuit.on_attempt(130, P)
    assert probing.state is HALF
    assert not probing.available(131)
    assert probing.available(160)  # the probe never came back: allow another
    assert probing.on_success() == Circuit()


def test_closed_circuit_is_always_available() -> None:
    """A closed circuit takes traffic and an attempt leaves it unchanged."""
    assert Circuit().available(0)
    assert Circuit().on_attempt(5, P) == Circuit()
