"""What happened lately, counted per time bucket: the dashboard's tiles and chart.

Read-only, over what the store already keeps: the emails' event history (accepted, sent,
failed) and the provider events matched to an email (delivered, bounced, complained). Counts
only: no ids, addresses or content leave this port.
"""

from dataclasses import dataclass
from typing import Protocol

# The kinds counted, each a list of per-bucket counts in Activity.counts.
ACCEPTED = "accepted"  # emails stored by the intake, by their creation (a redrive is not one)
SENT = "sent"  # emails a provider accepted
FAILED = "failed"  # emails given up on (dead-lettered)
DELIVERED = "delivered"  # recipients a provider reported delivered (matched events)
BOUNCED = "bounced"
COMPLAINED = "complained"
KINDS = (ACCEPTED, SENT, FAILED, DELIVERED, BOUNCED, COMPLAINED)


@dataclass(frozen=True, slots=True)
class Activity:
    since: float
    bucket_seconds: float
    # Every kind of KINDS, each with one count per bucket: bucket i holds what happened in
    # [since + i * bucket_seconds, since + (i + 1) * bucket_seconds).
    counts: dict[str, list[int]]


def bucketed(
    since: float, buckets: int, bucket_seconds: float, found: list[tuple[str, int, int]]
) -> Activity:
    """An Activity from (kind, bucket index, count) rows; rows outside the range are dropped."""
    counts = {kind: [0] * buckets for kind in KINDS}
    for kind, index, count in found:
        if kind in counts and 0 <= index < buckets:
            counts[kind][index] += int(count)
    return Activity(since, bucket_seconds, counts)


# The outcome class of an attempt the provider accepted (ports/queue.py Event.outcome).
SUCCEEDED = "sent"


# The latency percentiles the dashboard shows, as shares of the calls.
MEDIAN = 0.5
HIGH = 0.99


@dataclass(frozen=True, slots=True)
class ProviderAttempts:
    provider: str
    attempts: int  # provider calls made since the time asked for
    succeeded: int  # of which the provider accepted the email (outcome SUCCEEDED)
    # How long the calls took (failed ones too), in milliseconds, by nearest rank
    # (domain/attempts.py nearest_rank) over the calls whose duration was measured; None when
    # none was (calls recorded before durations were).
    p50_ms: float | None = None
    p99_ms: float | None = None


class ActivityLog(Protocol):
    async def activity(self, since: float, buckets: int, bucket_seconds: float) -> Activity:
        """The counts of every kind in `buckets` buckets of `bucket_seconds` from `since`, by
        the time each event happened (a provider event's own time). An event at exactly the
        end of the last bucket is not counted. Raises StorageUnavailableError."""
        ...

    async def attempts(self, since: float) -> list[ProviderAttempts]:
        """Per provider that was called at or after `since`, its calls, how many succeeded
        and the MEDIAN and HIGH percentiles of their durations (the attempts table), in
        provider name order. Raises StorageUnavailableError."""
        ...
