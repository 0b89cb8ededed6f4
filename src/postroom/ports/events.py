"""The event store: provider events, append-only, deduplicated, matched to emails off the
request path (services/events.py)."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from postroom.domain.events import EventType
from postroom.ports.queue import Event, Lease


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An event as stored. No address is ever stored here: a recipient is its keyed hash
    (services/addresses.py) and, once matched, its position among the email's recipients."""

    provider: str  # the configured provider's name ("mailgun", or its name= option)
    dedup_key: str  # ProviderEvent.dedup_key: unique per provider
    type: EventType
    at: float  # when it happened (the provider's time, else when it was received)
    received_at: float
    recipient_key: str = ""  # "" when the payload names no recipient
    provider_message_id: str = ""
    correlation_id: str = ""
    reject_reason: str = ""
    bounce: str = ""
    description: str = ""  # scrubbed of addresses before it gets here
    # Set by the store:
    seq: int = 0
    # Set when matched (or given at `record` for Postroom's own events, stored matched):
    email_id: str = ""
    recipient_index: int = -1  # into Email.recipients(); -1 when not known
    tenant: str = ""


class RecordOutcome(StrEnum):
    RECORDED = "recorded"  # new events stored (possibly none, when all were already there)
    DUPLICATE = "duplicate"  # the replay token was seen with the same body: nothing stored
    CONFLICT = "conflict"  # the replay token was seen with another body: nothing stored


@dataclass(frozen=True, slots=True)
class Recorded:
    outcome: RecordOutcome
    new: int = 0  # events stored by this call
    duplicates: int = 0  # events skipped because their (provider, dedup_key) was there
    # Webhook messages this call created (matched events, for the endpoints that take them):
    # a dispatcher has something new to lease only when this is not 0.
    messages: int = 0


@dataclass(frozen=True, slots=True)
class Replay:
    """A signature token a provider must never reuse for another body (Mailgun's)."""

    token: str
    digest: str  # of the request body


# How every engine stores an event not yet resolved (then: a Resolution's matched or unmatched).
PENDING = "pending"


class Resolution(StrEnum):
    MATCHED = "matched"
    UNMATCHED = "unmatched"
    LATER = "later"  # no email yet (its settle may still be on the way): look again at `at`


@dataclass(frozen=True, slots=True)
class Resolved:
    seq: int
    resolution: Resolution
    email_id: str = ""
    recipient_index: int = -1
    tenant: str = ""
    at: float = 0.0  # LATER only: when to look again


class EventStore(Protocol):
    async def record(self, events: Sequence[EventRecord], replay: Replay | None = None) -> Recorded:
        """Store the events durably in one write before returning (StorageUnavailableError
        otherwise), skipping those whose (provider, dedup_key) is stored already. Events with
        an email_id are stored matched; the others pending, for `pending`. With `replay`, a
        token stored before decides first: same digest → DUPLICATE, other digest → CONFLICT,
        and nothing is written; a new token is stored in the same write as the events."""
        ...

    async def pending(self, limit: int, now: float, hold: float) -> list[EventRecord]:
        """Up to `limit` pending events due by `now`, oldest first, each hidden from other
        callers for `hold` seconds (a processor that dies leaves them to the next)."""
        ...

    async def resolve(self, resolved: Sequence[Resolved]) -> None:
        """Record what processing found, in one write: matched (email, recipient, tenant),
        unmatched (kept and counted, never pending again) or later (pending again at `at`)."""
        ...

    async def for_email(self, email_id: str) -> list[EventRecord]:
        """Every matched event of the email, by `at` then `seq`."""
        ...

    async def soft_bounces(self, tenant: str, recipient_key: str, since: float) -> int:
        """How many matched soft bounces this tenant's recipient had since `since`."""
        ...

    async def counts(self) -> dict[str, int]:
        """Events by resolution: {"pending": n, "matched": n, "unmatched": n}."""
        ...

    async def purge_events(self, before: float) -> int:
        """Drop events received before `before` and replay tokens older than it (retention);
        how many events were dropped."""
        ...


class RecordingAcks(Protocol):
    """Postroom's own events stored in the write that acks the email they tell of: an ability
    of a store that is also the queue (SQLite). Elsewhere (PostgreSQL, memory, or SQS beside a
    store) the events are recorded first and the ack follows, two durable writes."""

    async def ack_recording(
        self, lease: Lease, event: Event, attempts: Sequence[Event], records: Sequence[EventRecord]
    ) -> tuple[bool, int]:
        """Queue.ack and EventStore.record of `records` (matched: Postroom's own) in one durable
        write, both or neither (StorageUnavailableError). The records are stored, once per
        (provider, dedup_key), whether or not the lease is still held: the provider took the
        email either way; the ack only while it is. (acked, webhook messages the write made)."""
        ...
