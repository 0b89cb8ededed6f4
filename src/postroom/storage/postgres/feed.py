"""The feed in PostgreSQL: postroom_feed_items, written by the event store (and by disabling
an endpoint) in its own transaction, each new item fanned out to postroom_webhook_messages in
the same statement.

A feed reader pages by `seq > cursor`, so a seq must never become visible after a higher one.
An identity column's sequence hands out values in the order transactions ask for them, not the
order they commit: a transaction given seq 5 may commit after one given seq 6, and a reader
that saw 6 in between would never see 5. So every transaction that adds feed items takes one
transaction-level advisory lock before anything else: the next one asks for its seqs only after
the previous one has committed (PostgreSQL releases the lock once the commit is visible), and
seqs commit in order. Taken first, before any row lock, so it cannot deadlock with them. The
cost: writes that add items (matched events, disabled endpoints) take turns across processes;
those that add none (unmatched and later resolutions, other events) never take the lock."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from psycopg import AsyncConnection

from postroom.storage.postgres.connection import PostgresConnection
from postroom.storage.postgres.migrate import LOCK_KEY
from postroom.storage.postgres.options import storage_errors
from postroom.storage.postgres.queries import Row, rows

T = TypeVar("T")
# purge_content holds LOCK_KEY + 1, purge_events LOCK_KEY + 2.
FEED_LOCK = LOCK_KEY + 3
PURGE_WEBHOOKS_LOCK = LOCK_KEY + 4

Work = Callable[[AsyncConnection[Row]], Awaitable[T]]


async def in_feed_order(db: PostgresConnection, work: Work[T]) -> T:
    """`work` in one transaction that holds the feed's lock from its start to its commit."""
    with storage_errors():
        async with (await db.pool()).connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_LOCK,))
            return await work(conn)


async def feed_events(conn: AsyncConnection[Row], seqs: list[int], now: float) -> int:
    """Items for those of these events that are matched (one per event however often it is
    asked), with their messages; inside in_feed_order. How many messages it made."""
    if not seqs:
        return 0
    ((messages,),) = await rows(conn, "feed_events", {"seqs": seqs, "now": now})
    return int(messages)
