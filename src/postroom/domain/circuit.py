"""Per-provider circuit breakers: stop sending to a provider that is failing, probe it again
after a cool-down, and close on the first success.

Pure and immutable: every transition takes the time as an argument and returns a new Circuit,
so the router and its tests can enumerate them without a clock.
"""

from dataclasses import dataclass, replace
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"  # sending normally
    OPEN = "open"  # not sending until `until`
    HALF_OPEN = "half_open"  # one probe allowed to test recovery


class Failure(StrEnum):
    """How an attempt with a provider failed (docs/design.md's error classes)."""

    DOWN = "down"  # 5xx, timeout, connection error
    THROTTLED = "throttled"  # 429, SMTP 4xx
    MISCONFIGURED = "misconfigured"  # 401/403: needs the operator
    PERMANENT = "permanent"  # the email is refused: no provider will take it
    UNSUPPORTED = "unsupported"  # this provider cannot express the email; another may
    # The whole request went out and no readable answer came back (a timeout while waiting
    # for the reply): the provider may have accepted the email. For its health, like DOWN.
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    # Consecutive DOWN failures that open the circuit.
    threshold: int = 5
    cool_down: float = 30.0
    # Credentials refused: wait longer, an operator has to act anyway.
    misconfigured_cool_down: float = 300.0
    # A 429 without Retry-After pauses the provider this long.
    throttle_pause: float = 5.0


@dataclass(frozen=True, slots=True)
class Circuit:
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    # OPEN: closed to traffic before this time. HALF_OPEN: the probe's deadline.
    until: float = 0.0

    def available(self, now: float) -> bool:
        """Whether an email may be sent through this provider now."""
        if self.state is CircuitState.CLOSED:
            return True
        return now >= self.until

    def on_attempt(self, now: float, policy: BreakerPolicy) -> "Circuit":
        """An attempt starts. Past an OPEN circuit's time it becomes the half-open probe, and
        further attempts wait until the probe settles (or its deadline passes)."""
        if self.state is CircuitState.CLOSED:
            return self
        return replace(self, state=CircuitState.HALF_OPEN, until=now + policy.cool_down)

    def on_success(self) -> "Circuit":
        return Circuit()

    def on_failure(
        self, failure: Failure, now: float, policy: BreakerPolicy, retry_after: float | None = None
    ) -> "Circuit":
        if failure is Failure.PERMANENT:
            # The email was refused, the provider works: that is a success for its health.
            return self.on_success()
        if failure is Failure.UNSUPPORTED:
            return self  # decided before any request: says nothing about the provider's health
        if failure is Failure.MISCONFIGURED:
            return Circuit(
                CircuitState.OPEN, self.failures + 1, now + policy.misconfigured_cool_down
            )
        if failure is Failure.THROTTLED:
            pause = retry_after if retry_after is not None else policy.throttle_pause
            return Circuit(CircuitState.OPEN, self.failures, now + pause)
        failures = self.failures + 1
        if self.state is CircuitState.HALF_OPEN or failures >= policy.threshold:
            return Circuit(CircuitState.OPEN, failures, now + policy.cool_down)
        return Circuit(CircuitState.CLOSED, failures, 0.0)
