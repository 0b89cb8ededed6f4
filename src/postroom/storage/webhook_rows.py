"""What every engine's webhook store works out alike (ports/webhooks.py): endpoint types and
secrets as the SQL engines keep them, and what a batch of outcomes changes."""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from postroom.ports.webhooks import Endpoint, MessageState, Outcome, Secret


def types_text(types: Sequence[str]) -> str:
    """'' for every type, else ',a,b,': a type t is taken when ',t,' is in it, which SQL tests
    with instr/strpos, so fan-out is one join with no table of types."""
    return f",{','.join(types)}," if types else ""


def types_of(text: str) -> tuple[str, ...]:
    return tuple(name for name in text.split(",") if name)


def takes(types: Sequence[str], kind: str) -> bool:
    """An endpoint of these types is sent items of this kind."""
    return not types or kind in types


def secrets_text(secrets: Sequence[Secret]) -> str:
    return json.dumps([{"value": s.value, "expires_at": s.expires_at} for s in secrets])


def secrets_of(text: str) -> tuple[Secret, ...]:
    return tuple(Secret(s["value"], s["expires_at"]) for s in json.loads(text))


def once_per_endpoint(
    endpoint_of: Callable[[Sequence[Any]], Endpoint],
) -> Callable[[Sequence[Any]], Endpoint]:
    """`endpoint_of` for the rows of one lease: every message's row repeats its endpoint's
    columns, and parsing them (the secrets are JSON) for each would cost a lease more than its
    query; the same columns give the one Endpoint parsed first."""
    seen: dict[tuple[Any, ...], Endpoint] = {}

    def parsed(columns: Sequence[Any]) -> Endpoint:
        key = tuple(columns)
        found = seen.get(key)
        if found is None:
            found = seen[key] = endpoint_of(columns)
        return found

    return parsed


@dataclass(frozen=True, slots=True)
class MessageChange:
    id: int
    state: MessageState
    next_at: float | None  # None: keep the stored one (a message that is done)
    attempts: int  # added to the stored count


@dataclass(frozen=True, slots=True)
class EndpointChange:
    endpoint_id: str
    reset: bool  # a success came: the stored failing_since no longer counts
    since: float | None  # the first failure after the last success (or of the batch)

    def applied(self, stored: float | None) -> float | None:
        return self.since if self.reset else stored if stored is not None else self.since


def message_changes(outcomes: Sequence[Outcome]) -> list[MessageChange]:
    """One change per message, the last outcome's state with every outcome counted: an
    UPDATE ... FROM changes a row once however many rows of the batch it joins."""
    found: dict[int, MessageChange] = {}
    for outcome in outcomes:
        earlier = found.get(outcome.attempt.message_id)
        count = earlier.attempts + 1 if earlier else 1
        found[outcome.attempt.message_id] = MessageChange(
            outcome.attempt.message_id, outcome.state, outcome.next_at, count
        )
    return list(found.values())


def endpoint_changes(outcomes: Sequence[Outcome]) -> list[EndpointChange]:
    """Each endpoint's failing_since as the outcomes, in their order, leave it."""
    found: dict[str, EndpointChange] = {}
    for outcome in outcomes:
        endpoint_id = outcome.attempt.endpoint_id
        if outcome.succeeded:
            found[endpoint_id] = EndpointChange(endpoint_id, True, None)
            continue
        earlier = found.get(endpoint_id, EndpointChange(endpoint_id, False, None))
        if earlier.since is None:
            earlier = EndpointChange(endpoint_id, earlier.reset, outcome.attempt.at)
        found[endpoint_id] = earlier
    return list(found.values())


def disables(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """The first outcome that disables each endpoint: one disabled item per endpoint."""
    found: dict[str, Outcome] = {}
    for outcome in outcomes:
        if outcome.disable_reason:
            found.setdefault(outcome.attempt.endpoint_id, outcome)
    return list(found.values())
