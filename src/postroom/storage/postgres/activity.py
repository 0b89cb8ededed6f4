"""The dashboard's counts per time bucket: new emails from postroom_emails, sent and failed
from postroom_events, provider events from postroom_provider_events; and each provider's calls
from postroom_attempts.

The queries are kept here rather than in queries.sql: they are this port's only ones. Each
time range reads an index of migrations/0012_attempt_durations.sql, so a poll reads the rows
of its range only, not the whole tables.
"""

from postroom.ports.activity import (
    HIGH,
    MEDIAN,
    SUCCEEDED,
    Activity,
    ProviderAttempts,
    bucketed,
)
from postroom.storage.postgres.connection import PostgresConnection
from postroom.storage.postgres.options import storage_errors
from postroom.storage.sql import STATE_SQL

# An email's first state is its row's created_at, not an event row.
_COUNTS = """
SELECT 'accepted', floor((created_at - %(since)s) / %(width)s)::int, count(*)::int
FROM postroom_emails
WHERE created_at >= %(since)s AND created_at < %(until)s
GROUP BY 1, 2
UNION ALL
SELECT state, floor((at - %(since)s) / %(width)s)::int, count(*)::int
FROM postroom_events
WHERE at >= %(since)s AND at < %(until)s AND state IN ({sent}, {failed})
GROUP BY 1, 2
UNION ALL
SELECT type, floor((at - %(since)s) / %(width)s)::int, count(*)::int
FROM postroom_provider_events
WHERE at >= %(since)s AND at < %(until)s AND state = 'matched'
  AND type IN ('delivered', 'bounced', 'complained')
GROUP BY 1, 2
""".format_map(STATE_SQL).encode()


# percentile_disc is the nearest rank (domain/attempts.py nearest_rank); an aggregate skips
# NULLs, so attempts stored before durations were are left out of the percentiles alone.
_ATTEMPTS = b"""
SELECT provider, count(*)::int, (count(*) FILTER (WHERE outcome = %(succeeded)s))::int,
       percentile_disc(%(median)s) WITHIN GROUP (ORDER BY duration_ms),
       percentile_disc(%(high)s) WITHIN GROUP (ORDER BY duration_ms)
FROM postroom_attempts WHERE at >= %(since)s GROUP BY provider ORDER BY provider
"""


class PostgresActivityLog:
    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection

    async def activity(self, since: float, buckets: int, bucket_seconds: float) -> Activity:
        until = since + buckets * bucket_seconds
        params = {"since": since, "width": bucket_seconds, "until": until}
        with storage_errors():
            async with (await self._db.pool()).connection() as conn:
                cursor = await conn.execute(_COUNTS, params)
                found = await cursor.fetchall()
        return bucketed(since, buckets, bucket_seconds, [(r[0], r[1], r[2]) for r in found])

    async def attempts(self, since: float) -> list[ProviderAttempts]:
        params = {"since": since, "succeeded": SUCCEEDED, "median": MEDIAN, "high": HIGH}
        with storage_errors():
            async with (await self._db.pool()).connection() as conn:
                cursor = await conn.execute(_ATTEMPTS, params)
                found = await cursor.fetchall()
        return [ProviderAttempts(str(p), int(n), int(ok), p50, p99) for p, n, ok, p50, p99 in found]
