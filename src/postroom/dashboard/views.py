"""The dashboard's JSON, built from what the parts return: counts, states, ids and times only.
No address or content is ever put here, except a suppression the operator typed in."""

import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from postroom.dashboard.parts import Circuits
from postroom.domain.rules import rfc3339
from postroom.domain.suppression import Suppression
from postroom.ports.activity import (
    ACCEPTED,
    BOUNCED,
    COMPLAINED,
    DELIVERED,
    FAILED,
    KINDS,
    SENT,
    Activity,
    ProviderAttempts,
)
from postroom.ports.dead import DeadLetter
from postroom.ports.queue import QueueStats
from postroom.ports.webhooks import Attempt, Endpoint

BUCKET_SECONDS = 60.0
BUCKETS = 60  # the last hour, the current minute last
# What the throughput chart can span: (buckets, seconds each), the current bucket last.
RANGES = {"hour": (BUCKETS, BUCKET_SECONDS), "day": (24, 3600.0)}
CHARTED = (ACCEPTED, SENT, FAILED)
# Above these, the rate tiles carry the `warn` class (the thresholds providers act on).
BOUNCE_WARNING = 0.05
COMPLAINT_WARNING = 0.001


def hour_start(now: float) -> float:
    """The first bucket's start: the current minute is the last of BUCKETS."""
    return range_start(now, BUCKETS, BUCKET_SECONDS)


def range_start(now: float, buckets: int, width: float) -> float:
    """The first bucket's start, so that the bucket holding `now` is the last of `buckets`."""
    return math.floor(now / width) * width - (buckets - 1) * width


def chart_json(span: str, activity: Activity) -> dict[str, Any]:
    """The chart's series over `span` (a key of RANGES)."""
    return {
        "range": span,
        "since": rfc3339(activity.since),
        "bucketSeconds": activity.bucket_seconds,
        "series": {kind: activity.counts[kind] for kind in CHARTED},
    }


def queue_json(stats: QueueStats) -> dict[str, Any]:
    return {
        "ready": stats.ready,
        "scheduled": stats.scheduled,
        "inFlight": stats.in_flight,
        "dead": stats.dead,
        "oldestAge": round(stats.oldest_age, 1),
    }


def activity_json(activity: Activity | None) -> dict[str, Any] | None:
    if activity is None:
        return None
    totals = {kind: sum(activity.counts[kind]) for kind in KINDS}
    return {
        "since": rfc3339(activity.since),
        "bucketSeconds": activity.bucket_seconds,
        "series": activity.counts,
        "totals": totals,
        "rates": rates(totals),
    }


def rates(totals: dict[str, int]) -> dict[str, Any]:
    """Bounce and complaint rates over recipients whose outcome a provider reported (delivered
    or bounced); None when there is none yet."""
    reported = totals[DELIVERED] + totals[BOUNCED]
    bounce = totals[BOUNCED] / reported if reported else None
    complaint = totals[COMPLAINED] / reported if reported else None
    return {
        "bounce": bounce,
        "complaint": complaint,
        "bounceWarning": bounce is not None and bounce > BOUNCE_WARNING,
        "complaintWarning": complaint is not None and complaint > COMPLAINT_WARNING,
        "bounceThreshold": BOUNCE_WARNING,
        "complaintThreshold": COMPLAINT_WARNING,
    }


def circuits_json(
    circuits: Circuits,
    attempts: list[ProviderAttempts],
    paused: dict[str, float] | None = None,
    configured: Sequence[str] = (),
) -> dict[str, Any]:
    """Each provider's circuit, with its calls of the last hour, the share that succeeded
    (None without calls) and their latency percentiles, and whether an operator paused it
    (`paused` None: the store keeps no pauses, so none can be). A configured provider without
    a circuit here, or one called or paused but not configured, has state None; only
    configured ones can be paused."""
    called = {a.provider: a for a in attempts}
    pauses = paused or {}
    rows = [
        {
            "name": p.name,
            "state": p.state,
            "failures": p.failures,
            "until": rfc3339(p.until) if p.state != "closed" and p.until else None,
            **_calls(called.pop(p.name, None)),
        }
        for p in circuits.providers
    ]
    shown = {row["name"] for row in rows}
    rows += [_unknown(name, called.pop(name, None)) for name in configured if name not in shown]
    rows += [_unknown(name, a) for name, a in sorted(called.items())]
    listed = {row["name"] for row in rows}
    rows += [_unknown(name, None) for name in sorted(pauses) if name not in listed]
    for row in rows:
        at = pauses.get(row["name"])
        row["paused"] = at is not None
        row["pausedAt"] = rfc3339(at) if at is not None else None
        row["pausable"] = paused is not None and row["name"] in configured
    return {"source": circuits.source, "providers": rows, "pauses": paused is not None}


def _unknown(name: str, attempts: ProviderAttempts | None) -> dict[str, Any]:
    return {"name": name, "state": None, "failures": None, "until": None, **_calls(attempts)}


def _calls(attempts: ProviderAttempts | None) -> dict[str, Any]:
    """The hour's calls, the share accepted and how long they took (p50, p99 in whole
    milliseconds; None without a timed call)."""
    if attempts is None or not attempts.attempts:
        return {"attempts": 0, "successRate": None, "p50Ms": None, "p99Ms": None}
    return {
        "attempts": attempts.attempts,
        "successRate": attempts.succeeded / attempts.attempts,
        "p50Ms": _millis(attempts.p50_ms),
        "p99Ms": _millis(attempts.p99_ms),
    }


def _millis(value: float | None) -> int | None:
    # Whole milliseconds, at least 1: a call that took 0.3 ms did not take no time.
    return None if value is None else max(1, round(value))


def dead_json(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "failedAt": rfc3339(letter.failed_at),
        "attempts": letter.attempts,
        "provider": letter.provider,
        "error": letter.error,
    }


def endpoint_json(endpoint: Endpoint, attempts: list[Attempt]) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        # Scheme, host and path: a query string may carry the application's own token.
        "url": _without_query(endpoint.url),
        "enabled": endpoint.enabled,
        "disabledReason": endpoint.disabled_reason,
        "failingSince": rfc3339(endpoint.failing_since) if endpoint.failing_since else None,
        # The response bodies are left out: an application may echo anything in them.
        "attempts": [
            {
                "at": rfc3339(a.at),
                "status": a.status,
                "latencyMs": round(a.latency * 1000),
                "error": a.error,
            }
            for a in attempts
        ],
    }


def suppression_json(entry: Suppression, now: float) -> dict[str, Any]:
    return {
        "address": entry.address,
        "scope": entry.scope,
        "reason": str(entry.reason),
        "createdAt": rfc3339(entry.created_at),
        "expiresAt": rfc3339(entry.expires_at) if entry.expires_at is not None else None,
        "active": entry.active(now),
        "provider": entry.provider,
    }


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
