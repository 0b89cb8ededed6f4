"""Webhooks out and the events feed: the application's endpoints, the feed of state changes,
and the durable outbox of webhook messages (docs/webhooks.md).

The feed is written by the event store itself: every event that becomes matched to an email
(a provider's, once ProcessEvents resolves it, or Postroom's own, recorded matched) gets a feed
item in the same write, and every enabled endpoint of the tenant whose types take it gets a
message, also in that write. So nothing that reached the feed can miss its webhook, and a
feed reader sees items in the order of their `seq` with none appearing later behind its cursor.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Secret:
    value: str  # sealed (services/webhooks.py) as the store keeps it
    expires_at: float | None = None  # an old secret still signs until then; None: current


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str  # "ep_..."
    tenant: str
    url: str
    types: tuple[str, ...]  # event types it takes ("email.bounced", ...); (): every type
    description: str
    enabled: bool
    secrets: tuple[Secret, ...]  # the current one first
    created_at: float
    updated_at: float
    disabled_reason: str = ""  # why it was disabled, "" while enabled
    failing_since: float | None = None  # first failed attempt of the failures since a success


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One state change, as the feed and the webhooks carry it. Items derived from an event
    name its email and recipient; the others (`webhook.endpoint.disabled`) carry `data`."""

    seq: int  # the feed's cursor: increasing per store, in commit order
    tenant: str
    type: str  # "email.bounced", "webhook.endpoint.disabled", ...
    at: float  # when it happened
    created_at: float  # when it reached the feed
    email_id: str = ""
    recipient_index: int = -1
    provider: str = ""
    bounce: str = ""
    reject_reason: str = ""
    description: str = ""
    data: str = ""  # JSON object, for items not derived from an event


class MessageState(StrEnum):
    PENDING = "pending"  # to be attempted when next_at comes
    DELIVERED = "delivered"  # a 2xx came back
    FAILED = "failed"  # every attempt of the schedule failed (replay sends it again)


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message not from the feed (`webhook.test`), or one sent again (replay)."""

    webhook_id: str  # the `webhook-id` header: the receiver's idempotency key
    endpoint_id: str
    tenant: str
    type: str
    payload: str  # the exact JSON body
    next_at: float


@dataclass(frozen=True, slots=True)
class Message:
    id: int  # the store's
    webhook_id: str  # "evt_<feed seq>" for feed messages: the same for every endpoint
    endpoint_id: str
    tenant: str
    type: str
    state: MessageState
    attempts: int
    created_at: float
    next_at: float
    payload: str = ""  # "" for a feed message: built from `item`
    item: FeedItem | None = None  # a feed message's item (None when purged or not from the feed)


@dataclass(frozen=True, slots=True)
class Leased:
    message: Message
    endpoint: Endpoint


@dataclass(frozen=True, slots=True)
class Attempt:
    message_id: int
    webhook_id: str
    endpoint_id: str
    at: float
    status: int  # the HTTP status; 0 when no response came (refused, timed out, reset)
    latency: float  # seconds
    response: str = ""  # the first 1 KiB of the response body, as text
    error: str = ""  # why there was no response ("timeout", "refused: private address", ...)
    id: int = 0  # set by the store: increasing, the cursor of `attempts`


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt decided, written with the attempt in one write."""

    attempt: Attempt
    state: MessageState
    next_at: float | None = None  # PENDING only
    succeeded: bool = False  # the endpoint answered 2xx: its failing_since is cleared
    # Non-empty: disable the endpoint now with this reason, and append `disabled_item` (data
    # JSON; type webhook.endpoint.disabled) to the feed with its fan-out in the same write.
    disable_reason: str = ""
    disabled_data: str = ""


class WebhookStore(Protocol):
    async def create_endpoint(self, endpoint: Endpoint) -> None: ...

    async def get_endpoint(self, tenant: str, endpoint_id: str) -> Endpoint | None: ...

    async def list_endpoints(self, tenant: str) -> list[Endpoint]:
        """The tenant's endpoints, oldest first."""
        ...

    async def update_endpoint(self, endpoint: Endpoint) -> bool:
        """Replace the stored endpoint of that (tenant, id) with this one; False when gone."""
        ...

    async def delete_endpoint(self, tenant: str, endpoint_id: str) -> bool:
        """Delete it with its messages and attempts; False when there was none."""
        ...

    async def enqueue(self, messages: Sequence[NewMessage]) -> None:
        """Store messages to send, in one durable write."""
        ...

    async def lease(self, limit: int, now: float, hold: float) -> list[Leased]:
        """Up to `limit` pending messages due by `now` whose endpoint is enabled, oldest due
        first, each hidden from other callers for `hold` seconds (a dispatcher that dies
        leaves them to the next, which sends them again under the same webhook-id)."""
        ...

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        """Record the attempts and what they decided, in one write: each message's state,
        attempts + 1 and next_at; each endpoint's failing_since (set on a failure when unset,
        cleared on a success); disabling and its feed item."""
        ...

    async def attempts(
        self, tenant: str, endpoint_id: str, limit: int, before: int = 0
    ) -> list[Attempt]:
        """The endpoint's attempts, newest first; with `before`, only those whose id is lower
        (the id of the last one of the previous page)."""
        ...

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
        """Make the endpoint's messages created in [since, until) (of them only the failed
        ones with `failed_only`; only the one of that webhook-id with `webhook_id`) pending
        again, due now, with their attempts count reset; how many."""
        ...

    async def feed(
        self, tenant: str, after: int, types: Sequence[str], limit: int
    ) -> list[FeedItem]:
        """Up to `limit` items of the tenant with seq > `after`, by seq; only those types
        when `types` is not empty."""
        ...

    async def counts(self) -> dict[str, int]:
        """Messages by state: {"pending": n, "delivered": n, "failed": n}."""
        ...

    async def purge_webhooks(self, before: float) -> int:
        """Drop feed items, finished messages and attempts created before `before`
        (retention); how many feed items were dropped."""
        ...


@dataclass(frozen=True, slots=True)
class Response:
    """What one POST to a receiver came to."""

    status: int  # the HTTP status; 0 when there was no response
    latency: float  # seconds from the start of the attempt to its end
    body: str = ""  # the first 1 KiB of the response body, decoded leniently
    retry_after: str | None = None  # the Retry-After header as sent
    # Why there was no response, naming no part of the URL: "refused: loopback address",
    # "timeout", "connection failed", "redirect not followed" (a 3xx is a failure), ...
    error: str = ""


class WebhookSender(Protocol):
    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Response:
        """POST `body` to `url` once: never raises for anything the receiver or the network
        does; it all comes back as a Response."""
        ...

    async def close(self) -> None: ...
