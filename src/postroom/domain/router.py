"""The failover decision, per attempt: which provider next, or what to do with the email.

Table-driven and pure (docs/design.md's error classes):

| what just happened                         | decision                                        |
|--------------------------------------------|-------------------------------------------------|
| nothing yet                                | send through the first available provider       |
| permanent refusal                          | fail the email now (no failover)                |
| down / throttled / misconfigured           | fail over to the next available, untried one    |
| this provider cannot express the email     | fail over likewise                              |
| outcome unknown (it may have been accepted) | no failover: retry later, same Message-ID       |
| no provider can express it                 | fail the email now                              |
| no provider left in this attempt           | retry later (backoff, at least any Retry-After) |
| no provider left, out of attempts or age   | fail the email (dead letter)                    |
| ... but a provider not tried is paused     | retry later: a pause never dead-letters         |

A provider an operator paused is skipped like an open circuit, and never probed: no half-open
trial reaches it until it is resumed.

An unknown outcome is not failed over: another provider would send a second copy that nobody
can recognise as one, while a later retry goes (circuits allowing) to the same first provider,
with the same Message-ID, which receivers use to recognise a repeat.
"""

from collections.abc import Sequence, Set
from dataclasses import dataclass, replace
from enum import StrEnum

from postroom.domain.circuit import Circuit, Failure
from postroom.domain.retry import RetryPolicy


class Action(StrEnum):
    SEND = "send"
    RETRY = "retry"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    provider: int = -1  # SEND: index into the provider list
    at: float = 0.0  # RETRY: when
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Attempt:
    """What the current attempt has seen so far."""

    number: int  # 1 for the first attempt of this email
    age: float  # seconds since the email was accepted
    tried: frozenset[int] = frozenset()
    # The longest Retry-After a provider asked for during this attempt.
    retry_after: float = 0.0
    # Each failed call of this attempt, "provider: reason", joined with "; " in order.
    last_reason: str = ""
    # Providers that said they cannot express this email at all.
    unsupported: frozenset[int] = frozenset()
    # A call's outcome is unknown: no further provider in this attempt (no failover).
    unknown: bool = False


def next_step(
    attempt: Attempt,
    circuits: Sequence[Circuit],
    now: float,
    policy: RetryPolicy,
    rand: float,
    paused: Set[int] = frozenset(),
) -> Decision:
    """Send through the first available provider not yet tried and not `paused` (indices),
    or give the email back. While a paused provider has not been tried in this attempt the
    email is never given up: it is retried with the usual backoff, whatever its attempts."""
    untried = [i for i in range(len(circuits)) if i not in attempt.tried]
    if not attempt.unknown:
        for index in untried:
            if index not in paused and circuits[index].available(now):
                return Decision(Action.SEND, provider=index)
    held = not attempt.unknown and any(i in paused for i in untried)
    reason = attempt.last_reason or ("paused" if held else "no provider available")
    if len(attempt.unsupported) == len(circuits):
        return Decision(Action.FAIL, reason=f"no provider can express this email: {reason}")
    if not held and policy.gives_up(attempt.number, attempt.age):
        noun = "attempt" if attempt.number == 1 else "attempts"
        return Decision(Action.FAIL, reason=f"gave up after {attempt.number} {noun}: {reason}")
    delay = max(policy.delay(attempt.number, rand), attempt.retry_after)
    return Decision(Action.RETRY, at=now + delay, reason=reason)


def after_failure(
    attempt: Attempt, provider: int, failure: Failure, reason: str, retry_after: float | None
) -> Attempt | Decision:
    """Record a failed send. A permanent refusal ends the email; an unknown outcome ends the
    attempt (no failover: the email is retried later or given up); anything else fails over.

    Reasons accumulate, so a retry or a dead letter names every provider that failed."""
    reasons = f"{attempt.last_reason}; {reason}" if attempt.last_reason else reason
    if failure is Failure.PERMANENT:
        return Decision(Action.FAIL, provider=provider, reason=reasons)
    longest = max(attempt.retry_after, retry_after or 0.0)
    unsupported = attempt.unsupported | ({provider} if failure is Failure.UNSUPPORTED else set())
    return replace(
        attempt,
        tried=attempt.tried | {provider},
        retry_after=longest,
        last_reason=reasons,
        unsupported=unsupported,
        unknown=attempt.unknown or failure is Failure.UNKNOWN,
    )
