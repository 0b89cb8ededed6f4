"""Provider events in PostgreSQL: postroom_provider_events and postroom_replay_tokens.

A batch of events, its token and its deduplication are one statement (record_events), however
many events the batch holds: one round trip, one commit. Handing out pending events is
`FOR UPDATE SKIP LOCKED`, like leasing emails. Events that are matched (Postroom's own,
recorded so, or resolved) reach the feed and its webhooks in the same transaction, which
then holds the feed's lock (feed.py). The SQL is in queries.sql."""

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection

from postroom.domain.errors import StorageUnavailableError
from postroom.domain.events import Bounce, EventType
from postroom.ports.events import (
    PENDING,
    EventRecord,
    Recorded,
    RecordOutcome,
    Replay,
    Resolution,
    Resolved,
)
from postroom.storage.postgres.connection import PostgresConnection
from postroom.storage.postgres.feed import feed_events, in_feed_order
from postroom.storage.postgres.migrate import LOCK_KEY
from postroom.storage.postgres.queries import Row, rows

MATCHED = Resolution.MATCHED.value
UNMATCHED = Resolution.UNMATCHED.value
# record_events' arrays, in the order of an EventRecord's fields (seq aside).
_RECORD_COLUMNS = (
    *("providers", "dedup_keys", "types", "ats", "received", "recipient_keys", "message_ids"),
    *("correlation_ids", "reject_reasons", "bounces", "descriptions", "email_ids", "indexes"),
    "tenants",
)
_RESOLVE_COLUMNS = ("seqs", "states", "email_ids", "indexes", "tenants", "not_before")
# purge_content holds LOCK_KEY + 1.
_PURGE_LOCK = LOCK_KEY + 2


class PostgresEventStore:
    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def record(self, events: Sequence[EventRecord], replay: Replay | None = None) -> Recorded:
        params = {
            **arrays(_RECORD_COLUMNS, [_row(event) for event in events]),
            "token": replay.token if replay else None,
            "digest": replay.digest if replay else None,
            "now": self._clock.now(),
        }
        fed = any(_feeds(event) for event in events)
        # Not claimed yet not found: the token was purged in between; try once more.
        for _ in range(3):
            claimed, new, messages = await self._record(params, fed)
            if replay is None or claimed:
                return Recorded(RecordOutcome.RECORDED, new, len(events) - new, messages)
            for (digest,) in await self._db.fetch("replay_digest", params):
                same = digest == replay.digest
                return Recorded(RecordOutcome.DUPLICATE if same else RecordOutcome.CONFLICT)
        raise StorageUnavailableError("postgresql: replay token contended; try again")

    async def _record(self, params: dict[str, Any], fed: bool) -> tuple[int, int, int]:
        """(token claimed, events stored, webhook messages made); the matched ones fed in the
        same transaction."""
        if not fed:
            ((claimed, new, _),) = await self._db.fetch("record_events", params)
            return claimed, new, 0

        async def work(conn: AsyncConnection[Row]) -> tuple[int, int, int]:
            ((claimed, new, matched),) = await rows(conn, "record_events", params)
            messages = await feed_events(conn, matched or [], params["now"])
            return claimed, new, messages

        return await in_feed_order(self._db, work)

    async def pending(self, limit: int, now: float, hold: float) -> list[EventRecord]:
        params = {"limit": limit, "now": now, "until": now + hold}
        return [_record_of(row) for row in await self._db.fetch("pending_events", params)]

    async def resolve(self, resolved: Sequence[Resolved]) -> None:
        if not resolved:
            return
        params = arrays(_RESOLVE_COLUMNS, [_resolution(outcome) for outcome in resolved])
        matched = [o.seq for o in resolved if o.resolution is Resolution.MATCHED]
        if not matched:
            await self._db.fetch("resolve_events", params)
            return

        async def work(conn: AsyncConnection[Row]) -> None:
            await rows(conn, "resolve_events", params)
            await feed_events(conn, matched, self._clock.now())

        await in_feed_order(self._db, work)

    async def for_email(self, email_id: str) -> list[EventRecord]:
        if not email_id:
            return []  # pending and unmatched events have no email
        rows = await self._db.fetch("events_of_email", {"email_id": email_id})
        return [_record_of(row) for row in rows]

    async def soft_bounces(self, tenant: str, recipient_key: str, since: float) -> int:
        params = {
            "tenant": tenant,
            "recipient_key": recipient_key,
            "since": since,
            "bounce": Bounce.SOFT.value,
        }
        return int((await self._db.fetch("soft_bounces", params))[0][0])

    async def counts(self) -> dict[str, int]:
        found: dict[str, int] = dict(await self._db.fetch("event_counts", {}))
        return {state: int(found.get(state, 0)) for state in (PENDING, MATCHED, UNMATCHED)}

    async def purge_events(self, before: float) -> int:
        params = {"before": before, "lock": _PURGE_LOCK}
        return int((await self._db.fetch("purge_events", params))[0][0])


def arrays(names: Sequence[str], rows: list[Row]) -> dict[str, list[Any]]:
    """Rows as one array per column, for UNNEST; empty arrays for no rows."""
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def _feeds(event: EventRecord) -> bool:
    """Stored matched, and a state change: it gets a feed item."""
    return bool(event.email_id) and event.type is not EventType.UNKNOWN


def _row(event: EventRecord) -> Row:
    return (
        *(event.provider, event.dedup_key, event.type, event.at, event.received_at),
        *(event.recipient_key, event.provider_message_id, event.correlation_id),
        *(event.reject_reason, event.bounce, event.description),
        *(event.email_id, event.recipient_index, event.tenant),
    )


def _record_of(row: Row) -> EventRecord:
    return EventRecord(row[0], row[1], EventType(row[2]), *row[3:])


def _resolution(outcome: Resolved) -> Row:
    """(seq, state, email_id, recipient_index, tenant, not_before): only a match names an
    email, only a later resolution sets a time."""
    if outcome.resolution is Resolution.MATCHED:
        named = (outcome.email_id, outcome.recipient_index, outcome.tenant)
        return (outcome.seq, MATCHED, *named, None)
    if outcome.resolution is Resolution.UNMATCHED:
        return (outcome.seq, UNMATCHED, "", -1, "", None)
    return (outcome.seq, PENDING, "", -1, "", outcome.at)
