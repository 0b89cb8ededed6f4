"""The dashboard's counts per time bucket: new emails from postroom_emails, sent and failed
from postroom_events, provider events from postroom_provider_events.

The query is kept here rather than in queries.sql: it is this port's only one. None of the
three tables is indexed on these times, so an hour's counts scan them (docs/dashboard.md).
"""

from postroom.ports.activity import SUCCEEDED, Activity, ProviderAttempts, bucketed
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


_ATTEMPTS = b"""
SELECT provider, count(*)::int, (count(*) FILTER (WHERE outcome = %(succeeded)s))::int
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
        params = {"since": since, "succeeded": SUCCEEDED}
        with storage_errors():
            async with (await self._db.pool()).connection() as conn:
                cursor = await conn.execute(_ATTEMPTS, params)
                found = await cursor.fetchall()
        return [ProviderAttempts(str(r[0]), int(r[1]), int(r[2])) for r in found]
