"""Webhooks out: event types, the retry schedule and what an attempt's answer decides
(docs/webhooks.md). Pure: the caller supplies the time and the randomness."""

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from postroom.domain.events import EventType
from postroom.domain.rules import rfc3339

TEST = "webhook.test"
ENDPOINT_DISABLED = "webhook.endpoint.disabled"
# Every state change of a recipient is `email.<state>`; `unknown` changes nothing, so it is
# not one.
EMAIL_TYPES = tuple(f"email.{kind}" for kind in EventType if kind is not EventType.UNKNOWN)
TYPES = frozenset((*EMAIL_TYPES, TEST, ENDPOINT_DISABLED))

# Svix's schedule: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after the
# attempt before: eight attempts over about a day and a half.
SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
# Each wait is spread by up to this share either way, so endpoints recovering from one
# outage are not all called again in the same second.
JITTER = 0.1
# An endpoint whose every attempt failed for this long is disabled (Svix's five days).
DISABLE_AFTER = 5 * 86400.0
# A Retry-After longer than this is taken as this: a receiver cannot park a message for ever.
MAX_RETRY_AFTER = 36000.0
GONE = 410


def event_id(seq: int) -> str:
    """A feed item's id and its webhooks' `webhook-id`, the same for every endpoint (the SQL
    engines write it as 'evt_' || seq in their fan-out)."""
    return f"evt_{seq}"


def event_type(kind: EventType) -> str:
    return f"email.{kind}"


def unknown_types(types: Sequence[str]) -> list[str]:
    """The names in `types` that are no event type."""
    return [name for name in types if name not in TYPES]


def next_delay(
    attempts: int, rand: float, schedule: Sequence[float] = SCHEDULE, retry_after: float = 0.0
) -> float | None:
    """Seconds before the next attempt after `attempts` attempts (1 after the first), or None
    when the schedule is spent. `rand` in [0, 1) gives the jitter; a receiver's Retry-After
    lengthens the wait, never shortens it."""
    if attempts >= len(schedule):
        return None
    base = schedule[attempts]
    wait = base * (1 + JITTER * (2 * rand - 1))
    return max(wait, min(retry_after, MAX_RETRY_AFTER))


@dataclass(frozen=True, slots=True)
class Verdict:
    delivered: bool
    disable_reason: str = ""  # non-empty: disable the endpoint now


def judge(status: int, now: float, failing_since: float | None) -> Verdict:
    """What an attempt's status (0: no response) means for its message and endpoint: a 2xx
    delivers; 410 Gone disables at once; any failure after five days of nothing but failures
    disables."""
    if 200 <= status < 300:
        return Verdict(True)
    if status == GONE:
        return Verdict(False, "the endpoint answered 410 Gone")
    if failing_since is not None and now - failing_since >= DISABLE_AFTER:
        days = math.floor(DISABLE_AFTER / 86400)
        return Verdict(False, f"every attempt failed for {days} days")
    return Verdict(False)


def parse_retry_after(value: str | None, now: float) -> float:
    """Seconds a Retry-After header asks to wait (delta seconds or an HTTP date); 0 when
    absent or unreadable."""
    if not value:
        return 0.0
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return 0.0
    if when.tzinfo is None:
        return 0.0
    return max(0.0, when.timestamp() - now)


def envelope(kind: str, at: float, data: dict[str, object]) -> dict[str, object]:
    """A webhook's body and a feed entry: `{"type", "timestamp", "data"}`."""
    return {"type": kind, "timestamp": rfc3339(at), "data": data}


def payload(kind: str, at: float, data: dict[str, object]) -> str:
    """The envelope as the exact bytes a webhook signs and sends."""
    return json.dumps(envelope(kind, at, data), separators=(",", ":"))
