"""The feed in SQLite: feed_items, written by the event store (and by disabling an endpoint)
inside its own write, each new item fanned out to webhook_messages in that write too.

SQLite has one writer at a time (the group commit's, under the file lock), so seqs commit in
the order they are given and a reader paging by seq never finds a lower one appearing later;
the items a write added are those above the highest seq it found when it started."""

import sqlite3
from typing import Any

from postroom.domain.webhooks import ENDPOINT_DISABLED
from postroom.ports.events import Resolution
from postroom.ports.webhooks import FeedItem, MessageState

MATCHED = Resolution.MATCHED.value
PENDING = MessageState.PENDING.value

# A FeedItem's fields, in its order: the item's own, then its event's (a LEFT JOIN with
# provider_events e; nothing for items not from an event).
ITEM_FIELDS = (
    "f.seq, f.tenant, f.type, f.at, f.created_at, coalesce(e.email_id, ''),"
    " coalesce(e.recipient_index, -1), coalesce(e.provider, ''), coalesce(e.bounce, ''),"
    " coalesce(e.reject_reason, ''), coalesce(e.description, ''), f.data"
)
ITEM_JOIN = "LEFT JOIN provider_events e ON e.seq = f.event_seq"
# Only matched events reach the feed, and `unknown` changes nothing, so it is no item. The
# events are found by seq (a rowid range or rowids) and only then tested for their state:
# `+state` keeps SQLite from walking an index on state instead, through every matched event
# ever stored, a write slower the more there are (measured: 170 µs a write at 6,000 events).
_FEED_EVENTS = (
    "INSERT INTO feed_items (tenant, type, at, created_at, event_seq)"
    " SELECT tenant, 'email.' || type, at, ?, seq FROM provider_events"
    " WHERE {} AND +state = ? AND type <> 'unknown' ORDER BY seq"
    " ON CONFLICT (event_seq) DO NOTHING"
)
# One message per new item and enabled endpoint of its tenant that takes its type.
_FAN_OUT = (
    "INSERT INTO webhook_messages"
    " (webhook_id, endpoint_id, tenant, type, feed_seq, state, attempts, created_at, next_at)"
    " SELECT 'evt_' || f.seq, w.id, f.tenant, f.type, f.seq, ?, 0, ?, ?"
    " FROM feed_items f JOIN webhook_endpoints w ON w.tenant = f.tenant AND w.enabled"
    " AND (w.types = '' OR instr(w.types, ',' || f.type || ',') > 0) AND w.id <> ?"
    " WHERE f.seq > ? ORDER BY f.seq, w.created_at, w.id"
)
_FEED = (
    f"SELECT {ITEM_FIELDS} FROM feed_items f {ITEM_JOIN}"
    " WHERE f.tenant = ? AND f.seq > ? AND (? = '' OR instr(?, ',' || f.type || ',') > 0)"
    " ORDER BY f.seq LIMIT ?"
)


def last_seq(conn: sqlite3.Connection, table: str) -> int:
    """The highest seq stored (a rowid: one step down the b-tree)."""
    return int(conn.execute(f"SELECT coalesce(max(seq), 0) FROM {table}").fetchone()[0])


def feed_recorded(conn: sqlite3.Connection, after_event: int, now: float) -> int:
    """Items for the matched events this write recorded: those above `after_event`; how many
    webhook messages they were fanned out to."""
    return _feed_where(conn, "seq > ?", (after_event,), now)


def feed_resolved(conn: sqlite3.Connection, seqs: list[int], now: float) -> None:
    """Items for these events, those matched; the unique event_seq skips any fed already."""
    _feed_where(conn, "seq IN (SELECT value FROM json_each(?))", (_json_ints(seqs),), now)


def _feed_where(conn: sqlite3.Connection, where: str, params: tuple[Any, ...], now: float) -> int:
    after = last_seq(conn, "feed_items")
    conn.execute(_FEED_EVENTS.format(where), (now, *params, MATCHED))
    return fan_out(conn, after, now)


def fan_out(conn: sqlite3.Connection, after: int, now: float, skip: str = "") -> int:
    """Messages for the items above `after` (every endpoint that takes them but `skip`); how
    many."""
    return int(conn.execute(_FAN_OUT, (PENDING, now, now, skip, after)).rowcount)


def append_disabled(
    conn: sqlite3.Connection, tenant: str, at: float, data: str, now: float, skip: str
) -> None:
    """The item telling that endpoint `skip` was disabled, sent to the tenant's others."""
    after = last_seq(conn, "feed_items")
    conn.execute(
        "INSERT INTO feed_items (tenant, type, at, created_at, data) VALUES (?, ?, ?, ?, ?)",
        (tenant, ENDPOINT_DISABLED, at, now, data),
    )
    fan_out(conn, after, now, skip)


def read_feed(
    conn: sqlite3.Connection, tenant: str, after: int, types: str, limit: int
) -> list[FeedItem]:
    """`types` as an endpoint's are stored: '' for every one."""
    rows = conn.execute(_FEED, (tenant, after, types, types, limit)).fetchall()
    return [FeedItem(*row) for row in rows]


def drop_items_of_events(conn: sqlite3.Connection, before: float) -> None:
    """The items of the events purge_events drops: an item would name no email without its
    event (the foreign key is not enforced here)."""
    conn.execute(
        "DELETE FROM feed_items WHERE event_seq IN"
        " (SELECT seq FROM provider_events WHERE received_at < ?)",
        (before,),
    )


def _json_ints(values: list[int]) -> str:
    return "[" + ",".join(str(int(value)) for value in values) + "]"
