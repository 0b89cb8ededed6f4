"""The dashboard's counts per time bucket: new emails from the emails table (an email's first
state is its row, not an event), sent and failed from events, provider events from
provider_events; and each provider's calls from attempts.

Each time range reads an index of migrations/0012_attempt_durations.sql (emails_created,
events_settled, provider_events_matched, attempts_at), so a poll reads the rows of its range
only, not the whole tables.
"""

import sqlite3
from typing import Any

from postroom.ports.activity import (
    HIGH,
    MEDIAN,
    SUCCEEDED,
    Activity,
    ProviderAttempts,
    bucketed,
)
from postroom.storage.sql import STATE_SQL
from postroom.storage.sqlite.connection import SqliteConnection

# An email's first state is its row's created_at, not an event row.
_COUNTS = """
SELECT 'accepted', CAST((created_at - :since) / :width AS INTEGER), count(*)
FROM emails
WHERE created_at >= :since AND created_at < :until
GROUP BY 1, 2
UNION ALL
SELECT state, CAST((at - :since) / :width AS INTEGER), count(*)
FROM events
WHERE at >= :since AND at < :until AND state IN ({sent}, {failed})
GROUP BY 1, 2
UNION ALL
SELECT type, CAST((at - :since) / :width AS INTEGER), count(*)
FROM provider_events
WHERE at >= :since AND at < :until AND state = 'matched'
  AND type IN ('delivered', 'bounced', 'complained')
GROUP BY 1, 2
""".format_map(STATE_SQL)


# `+provider`: grouped by an expression, not the column, so that the planner (without
# statistics) reads the range through attempts_at instead of scanning the whole table in
# attempts_message's provider order to save a sort of a few groups.
_ATTEMPTS = (
    "SELECT provider, count(*), sum(outcome = :succeeded) FROM attempts"
    " WHERE at >= :since GROUP BY +provider ORDER BY provider"
)
# The calls' durations at the MEDIAN and HIGH nearest ranks, ceil(share * n) in whole percents
# by integer division (domain/attempts.py nearest_rank): SQLite has no percentile function, so
# a window ranks them and only the (at most) two rows of each provider leave the database;
# `+provider` as above.
_PERCENTILES = """
SELECT provider, rank = (n * :median + 99) / 100, rank = (n * :high + 99) / 100, duration_ms
FROM (
    SELECT provider, duration_ms,
           row_number() OVER (PARTITION BY +provider ORDER BY duration_ms) AS rank,
           count(*) OVER (PARTITION BY +provider) AS n
    FROM attempts WHERE at >= :since AND duration_ms IS NOT NULL
)
WHERE rank IN ((n * :median + 99) / 100, (n * :high + 99) / 100)
"""


class SqliteActivityLog:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    async def activity(self, since: float, buckets: int, bucket_seconds: float) -> Activity:
        until = since + buckets * bucket_seconds
        params = {"since": since, "width": bucket_seconds, "until": until}
        found = await self._db.read(_counts, params)
        return bucketed(since, buckets, bucket_seconds, found)

    async def attempts(self, since: float) -> list[ProviderAttempts]:
        return await self._db.read(_attempts, since)


def _attempts(conn: sqlite3.Connection, since: float) -> list[ProviderAttempts]:
    counted = conn.execute(_ATTEMPTS, {"succeeded": SUCCEEDED, "since": since}).fetchall()
    shares = {"median": round(MEDIAN * 100), "high": round(HIGH * 100), "since": since}
    p50: dict[str, float] = {}
    p99: dict[str, float] = {}
    for provider, is_median, is_high, duration in conn.execute(_PERCENTILES, shares):
        if is_median:
            p50[provider] = float(duration)
        if is_high:
            p99[provider] = float(duration)
    return [
        ProviderAttempts(str(p), int(n), int(ok), p50.get(p), p99.get(p)) for p, n, ok in counted
    ]


def _counts(conn: sqlite3.Connection, params: dict[str, Any]) -> list[tuple[str, int, int]]:
    return conn.execute(_COUNTS, params).fetchall()
