"""The dashboard's counts per time bucket: new emails from the emails table (an email's first
state is its row, not an event), sent and failed from events, provider events from
provider_events.

None of the three is indexed on these times (emails_owner starts with the owner): an hour's
counts scan them (docs/dashboard.md; an index is a migration of its own, not added yet).
"""

import sqlite3
from typing import Any

from postroom.ports.activity import SUCCEEDED, Activity, ProviderAttempts, bucketed
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


_ATTEMPTS = (
    "SELECT provider, count(*), sum(outcome = ?) FROM attempts"
    " WHERE at >= ? GROUP BY provider ORDER BY provider"
)


class SqliteActivityLog:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    async def activity(self, since: float, buckets: int, bucket_seconds: float) -> Activity:
        until = since + buckets * bucket_seconds
        params = {"since": since, "width": bucket_seconds, "until": until}
        found = await self._db.read(_counts, params)
        return bucketed(since, buckets, bucket_seconds, found)

    async def attempts(self, since: float) -> list[ProviderAttempts]:
        rows = await self._db.read(_attempts, since)
        return [ProviderAttempts(str(p), int(n), int(ok)) for p, n, ok in rows]


def _attempts(conn: sqlite3.Connection, since: float) -> list[tuple[Any, ...]]:
    return conn.execute(_ATTEMPTS, (SUCCEEDED, since)).fetchall()


def _counts(conn: sqlite3.Connection, params: dict[str, Any]) -> list[tuple[str, int, int]]:
    return conn.execute(_COUNTS, params).fetchall()
