"""Webhook endpoints, the feed and the outbox in PostgreSQL: postroom_webhook_endpoints,
postroom_feed_items, postroom_webhook_messages and postroom_webhook_attempts
(ports/webhooks.py).

Leasing messages is `FOR UPDATE SKIP LOCKED`, like leasing emails. A settle is one statement,
or, when it disables an endpoint (whose feed item it appends), one transaction under the
feed's lock (feed.py). The SQL is in queries.sql."""

from collections.abc import Callable, Sequence
from typing import Any

from psycopg import AsyncConnection

from postroom.ports.webhooks import (
    Attempt,
    Endpoint,
    FeedItem,
    Leased,
    Message,
    MessageState,
    NewMessage,
    Outcome,
)
from postroom.storage.postgres.connection import PostgresConnection
from postroom.storage.postgres.events import arrays
from postroom.storage.postgres.feed import PURGE_WEBHOOKS_LOCK, in_feed_order
from postroom.storage.postgres.queries import Row, rows
from postroom.storage.webhook_rows import (
    disables,
    endpoint_changes,
    message_changes,
    once_per_endpoint,
    secrets_of,
    secrets_text,
    types_of,
    types_text,
)

_ENQUEUE_COLUMNS = ("webhook_ids", "endpoint_ids", "tenants", "types", "payloads", "next_at")
_ATTEMPT_COLUMNS = (
    *("a_messages", "a_webhooks", "a_endpoints", "a_ats", "a_statuses", "a_latencies"),
    *("a_responses", "a_errors"),
)


class PostgresWebhookStore:
    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def create_endpoint(self, endpoint: Endpoint) -> None:
        await self._db.fetch("create_endpoint", _endpoint_params(endpoint))

    async def get_endpoint(self, tenant: str, endpoint_id: str) -> Endpoint | None:
        found = await self._db.fetch("endpoints", {"tenant": tenant, "id": endpoint_id})
        return endpoint_of(found[0]) if found else None

    async def list_endpoints(self, tenant: str) -> list[Endpoint]:
        found = await self._db.fetch("endpoints", {"tenant": tenant, "id": None})
        return [endpoint_of(row) for row in found]

    async def update_endpoint(self, endpoint: Endpoint) -> bool:
        return bool(await self._db.fetch("update_endpoint", _endpoint_params(endpoint)))

    async def delete_endpoint(self, tenant: str, endpoint_id: str) -> bool:
        params = {"tenant": tenant, "id": endpoint_id}

        async def work(conn: AsyncConnection[Row]) -> bool:
            return bool((await rows(conn, "delete_endpoint", params))[0][0])

        return await in_feed_order(self._db, work)

    async def enqueue(self, messages: Sequence[NewMessage]) -> None:
        if not messages:
            return
        values = [
            (m.webhook_id, m.endpoint_id, m.tenant, m.type, m.payload, m.next_at) for m in messages
        ]
        params = {**arrays(_ENQUEUE_COLUMNS, values), "now": self._clock.now()}
        await self._db.fetch("enqueue_webhooks", params)

    async def lease(self, limit: int, now: float, hold: float) -> list[Leased]:
        params = {"limit": limit, "now": now, "until": now + hold}
        endpoint = once_per_endpoint(endpoint_of)
        found = await self._db.fetch("lease_webhooks", params)
        return [_leased(row, endpoint) for row in found]

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        params = _settle_params(outcomes)
        disabling = disables(outcomes)
        if not disabling:
            await self._db.fetch("settle_webhooks", params)
            return
        now = self._clock.now()

        async def work(conn: AsyncConnection[Row]) -> None:
            await rows(conn, "settle_webhooks", params)
            for outcome in disabling:
                await rows(conn, "disable_endpoint", _disable_params(outcome, now))

        await in_feed_order(self._db, work)

    async def attempts(
        self, tenant: str, endpoint_id: str, limit: int, before: int = 0
    ) -> list[Attempt]:
        params = {"tenant": tenant, "id": endpoint_id, "before": before, "limit": max(limit, 0)}
        return [Attempt(*row) for row in await self._db.fetch("webhook_attempts", params)]

    async def replay(
        self,
        tenant: str,
        endpoint_id: str,
        since: float,
        until: float,
        failed_only: bool,
        now: float,
        webhook_id: str = "",
    ) -> int:
        params = {
            **{"tenant": tenant, "id": endpoint_id, "since": since, "until": until},
            **{"failed_only": failed_only, "now": now, "webhook_id": webhook_id},
        }
        return len(await self._db.fetch("replay_webhooks", params))

    async def feed(
        self, tenant: str, after: int, types: Sequence[str], limit: int
    ) -> list[FeedItem]:
        kinds = types_text(types)
        params = {"tenant": tenant, "after": after, "types": kinds, "limit": max(limit, 0)}
        return [FeedItem(*row) for row in await self._db.fetch("feed", params)]

    async def counts(self) -> dict[str, int]:
        found: dict[str, int] = dict(await self._db.fetch("webhook_counts", {}))
        return {state.value: int(found.get(state.value, 0)) for state in MessageState}

    async def purge_webhooks(self, before: float) -> int:
        params = {"before": before, "lock": PURGE_WEBHOOKS_LOCK}
        return int((await self._db.fetch("purge_webhooks", params))[0][0])


def _endpoint_params(endpoint: Endpoint) -> dict[str, Any]:
    return {
        **{"id": endpoint.id, "tenant": endpoint.tenant, "url": endpoint.url},
        **{"types": types_text(endpoint.types), "description": endpoint.description},
        **{"enabled": endpoint.enabled, "secrets": secrets_text(endpoint.secrets)},
        **{"created_at": endpoint.created_at, "updated_at": endpoint.updated_at},
        **{"disabled_reason": endpoint.disabled_reason, "failing_since": endpoint.failing_since},
    }


def endpoint_of(row: Sequence[Any]) -> Endpoint:
    return Endpoint(
        *(row[0], row[1], row[2], types_of(row[3]), row[4], row[5], secrets_of(row[6])),
        *row[7:11],
    )


def _leased(row: Row, endpoint: Callable[[Sequence[Any]], Endpoint]) -> Leased:
    """A row of lease_webhooks: the message (but its item), feed_seq, the endpoint, the item."""
    item = FeedItem(*row[22:]) if row[22] is not None else None
    message = Message(
        *(row[0], row[1], row[2], row[3], row[4], MessageState(row[5]), row[6], row[7]),
        *(row[8], row[9], item),
    )
    return Leased(message, endpoint(row[11:22]))


def _settle_params(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    attempts = [_attempt_row(outcome.attempt) for outcome in outcomes]
    messages = message_changes(outcomes)
    endpoints = endpoint_changes(outcomes)
    return {
        **arrays(_ATTEMPT_COLUMNS, attempts),
        "ids": [c.id for c in messages],
        "states": [c.state.value for c in messages],
        "next_at": [c.next_at for c in messages],
        "counts": [c.attempts for c in messages],
        "endpoints": [c.endpoint_id for c in endpoints],
        "resets": [c.reset for c in endpoints],
        "since": [c.since for c in endpoints],
    }


def _attempt_row(attempt: Attempt) -> Row:
    return (
        *(attempt.message_id, attempt.webhook_id, attempt.endpoint_id, attempt.at),
        *(attempt.status, attempt.latency, attempt.response, attempt.error),
    )


def _disable_params(outcome: Outcome, now: float) -> dict[str, Any]:
    return {
        **{"id": outcome.attempt.endpoint_id, "reason": outcome.disable_reason},
        **{"at": outcome.attempt.at, "data": outcome.disabled_data, "now": now},
    }
