"""Provider events: record them durably on the request path, match and act on them off it.

`RecordEvents` is all a webhook request costs: one durable write of the verified, parsed events
(providers retry until they get a 2xx, so a 2xx must mean stored). `ProcessEvents` runs in the
workers: it matches each pending event to an email (by Postroom's correlation id, else by the
provider's message id from the attempts table) and to one of its recipients (by keyed hash), and
suppresses addresses that bounced hard, complained or unsubscribed (docs/events.md).
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from postroom.domain.errors import CipherError
from postroom.domain.events import Bounce, EventType, ProviderEvent, RejectReason
from postroom.domain.ids import is_id
from postroom.domain.keys import DEFAULT_TENANT
from postroom.domain.message import Email
from postroom.domain.suppression import (
    SOFT_BOUNCE_LIMIT,
    SOFT_BOUNCE_WINDOW,
    Reason,
    expiry,
    is_soft_bounce,
    reason_for,
)
from postroom.logs import get_logger, log_event
from postroom.ports.clock import Clock
from postroom.ports.emails import EmailStore
from postroom.ports.events import (
    EventRecord,
    EventStore,
    Recorded,
    RecordingAcks,
    Resolution,
    Resolved,
)
from postroom.ports.inbound import Received
from postroom.ports.metrics import Metrics, NullMetrics
from postroom.ports.queue import Event, Lease, Queue
from postroom.services.addresses import AddressKeys
from postroom.services.content import Content
from postroom.services.suppressions import NewSuppression, SuppressionList

log = get_logger("events")

# An event that names no known email yet may have overtaken the settle that records the
# provider's message id (a fast provider's "delivered" can): looked at again every
# MATCH_RETRY seconds for MATCH_PATIENCE seconds, then kept as unmatched.
MATCH_RETRY = 5.0
MATCH_PATIENCE = 120.0
# A processor that dies holding events leaves them to the next after this many seconds.
HOLD = 30.0


class RecordEvents:
    def __init__(
        self,
        store: EventStore,
        keys: AddressKeys,
        clock: Clock,
        on_recorded: Callable[[], None] | None = None,
        on_fed: Callable[[], None] | None = None,
        acks: RecordingAcks | None = None,
    ) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        # Told after new provider events are stored (a processor in this process wakes at
        # once), and after Postroom's own, which go straight to the feed, made webhook
        # messages (the dispatcher of webhooks leases at once; woken by a write that made none,
        # it would lease for nothing: a write of its own, every 20 ms at full speed).
        self._on_recorded = on_recorded
        self._on_fed = on_fed
        # The store's acks that record an email's own events in their write (SQLite's).
        self._acks = acks
        # Postroom's own events from concurrent deliveries, waiting for the write in progress.
        self._own: list[EventRecord] = []
        self._own_waiting: list[asyncio.Future[None]] = []
        self._own_writing: asyncio.Task[None] | None = None

    async def __call__(self, provider: str, received: Received) -> Recorded:
        """Store what a provider sent, in one durable write; StorageUnavailableError else."""
        now = self._clock.now()
        records = [self._record(provider, e, now) for e in received.events]
        recorded = await self._store.record(records, received.replay)
        if recorded.new and self._on_recorded is not None:
            self._on_recorded()
        return recorded

    def _record(self, provider: str, event: ProviderEvent, now: float) -> EventRecord:
        return EventRecord(
            provider=provider,
            dedup_key=event.dedup_key,
            type=event.type,
            at=event.timestamp if event.timestamp is not None else now,
            received_at=now,
            recipient_key=self._keys.key(event.recipient) if event.recipient else "",
            provider_message_id=event.provider_message_id or "",
            correlation_id=event.correlation_id or "",
            reject_reason=str(event.reject_reason or ""),
            bounce=str(event.bounce or ""),
            description=event.description,
        )

    async def own(
        self, email_id: str, tenant: str, indices: Sequence[int], kind: EventType, reason: str
    ) -> None:
        """Record Postroom's own per-recipient events (`sent`, `suppressed`, ...), stored
        matched; durably before returning, StorageUnavailableError else. Every delivery
        records one, so the events of deliveries ending together go in one write."""
        await self._write_with_others(self._own_records(email_id, tenant, indices, kind, reason))

    async def ack_sent(
        self,
        queue: Queue,
        lease: Lease,
        event: Event,
        attempts: Sequence[Event],
        tenant: str,
        indices: Sequence[int],
    ) -> bool:
        """Record the email's `sent` for each recipient it went to, then ack its lease: one
        durable write where the store is the queue too (RecordingAcks), else the events first.
        Either way the `sent` is stored no later than the ack, so a crash before the ack sends
        the email again and its `sent` is then stored once. Queue.ack's answer."""
        records = self._own_records(lease.id, tenant, indices, EventType.SENT, "")
        if self._acks is None:
            await self._write_with_others(records)
            return await queue.ack(lease, event, attempts)
        acked, messages = await self._acks.ack_recording(lease, event, attempts, records)
        if messages and self._on_fed is not None:
            self._on_fed()
        return acked

    def _own_records(
        self, email_id: str, tenant: str, indices: Sequence[int], kind: EventType, reason: str
    ) -> list[EventRecord]:
        now = self._clock.now()
        return [
            EventRecord(
                provider="",
                dedup_key=f"{email_id}:{index}:{kind}",
                type=kind,
                at=now,
                received_at=now,
                description=reason,
                email_id=email_id,
                recipient_index=index,
                tenant=tenant,
            )
            for index in indices
        ]

    async def _write_with_others(self, records: list[EventRecord]) -> None:
        """Store `records` durably, in one write with those of the callers waiting meanwhile."""
        done = asyncio.get_running_loop().create_future()
        self._own.extend(records)
        self._own_waiting.append(done)
        if self._own_writing is None:
            self._own_writing = asyncio.create_task(self._write_own())
        await done

    async def _write_own(self) -> None:
        """Write what waits, then what came meanwhile, until nothing does; each caller hears
        the outcome of the write that held its events."""
        try:
            while self._own:
                records, self._own = self._own, []
                waiting, self._own_waiting = self._own_waiting, []
                try:
                    recorded = await self._store.record(records)
                except Exception as error:  # the callers' to handle (they retry outages)
                    for done in waiting:
                        done.set_exception(error)
                    continue
                if recorded.messages and self._on_fed is not None:
                    self._on_fed()
                for done in waiting:
                    done.set_result(None)
        finally:
            self._own_writing = None


@dataclass(slots=True)
class _Found:
    """An email matched by one batch of events: what the processor needs of it."""

    email_id: str
    tenant: str
    # The keyed hash of each recipient, in Email.recipients() order; () once purged.
    keys: tuple[str, ...]
    addresses: tuple[str, ...]


@dataclass(slots=True)
class _Batch:
    resolved: list[Resolved] = field(default_factory=list)
    suppress: dict[str, list[NewSuppression]] = field(default_factory=dict)
    emails: dict[str, _Found | None] = field(default_factory=dict)


class ProcessEvents:
    def __init__(
        self,
        events: EventStore,
        emails: EmailStore,
        suppressions: SuppressionList,
        keys: AddressKeys,
        content: Content,
        clock: Clock,
        metrics: Metrics | None = None,
    ) -> None:
        self._events = events
        self._emails = emails
        self._suppressions = suppressions
        self._keys = keys
        self._content = content
        self._clock = clock
        self._metrics = metrics or NullMetrics()

    async def __call__(self, limit: int = 500) -> int:
        """Process up to `limit` pending events; how many were taken (0: nothing to do)."""
        now = self._clock.now()
        pending = await self._events.pending(limit, now, HOLD)
        if not pending:
            return 0
        batch = _Batch()
        for record in pending:
            await self._process(record, batch, now)
        # Suppress first: a crash between the two writes processes the events again, and
        # suppressing twice changes nothing, while resolving first could lose a suppression.
        for tenant, entries in batch.suppress.items():
            await self._suppressions.add(tenant, entries)
        await self._events.resolve(batch.resolved)
        self._count(batch.resolved)
        return len(pending)

    async def _process(self, record: EventRecord, batch: _Batch, now: float) -> None:
        found = await self._match(record, batch)
        if found is None:
            batch.resolved.append(self._unmatched(record, now))
            return
        index = found.keys.index(record.recipient_key) if record.recipient_key in found.keys else -1
        batch.resolved.append(
            Resolved(record.seq, Resolution.MATCHED, found.email_id, index, found.tenant)
        )
        if index >= 0:
            await self._maybe_suppress(record, found, index, batch, now)

    def _unmatched(self, record: EventRecord, now: float) -> Resolved:
        if now - record.received_at < MATCH_PATIENCE:
            return Resolved(record.seq, Resolution.LATER, at=now + MATCH_RETRY)
        log_event(log, "event.unmatched", provider=record.provider, type=record.type)
        return Resolved(record.seq, Resolution.UNMATCHED)

    async def _match(self, record: EventRecord, batch: _Batch) -> _Found | None:
        email_id = record.correlation_id if is_id(record.correlation_id) else ""
        if not email_id and record.provider_message_id:
            email_id = (
                await self._emails.find_by_provider_id(record.provider, record.provider_message_id)
                or ""
            )
        if not email_id:
            return None
        if email_id not in batch.emails:
            batch.emails[email_id] = await self._load(email_id)
        return batch.emails[email_id]

    async def _load(self, email_id: str) -> _Found | None:
        stored = await self._emails.content(email_id)
        if stored is None:
            return None
        _owner, payload = stored
        email = self._open(payload, email_id)
        if email is None:  # purged by retention, or sealed with a key no longer configured
            return _Found(email_id, DEFAULT_TENANT, (), ())
        addresses = tuple(a.email for a in email.recipients())
        keys = tuple(self._keys.key(a) for a in addresses)
        return _Found(email_id, email.tenant or DEFAULT_TENANT, keys, addresses)

    def _open(self, payload: bytes, email_id: str) -> Email | None:
        if not payload:
            return None
        try:
            return self._content.open_email(payload, email_id)
        except CipherError:
            return None

    async def _maybe_suppress(
        self, record: EventRecord, found: _Found, index: int, batch: _Batch, now: float
    ) -> None:
        bounce = Bounce(record.bounce) if record.bounce else None
        rejected = RejectReason(record.reject_reason) if record.reject_reason else None
        reason = reason_for(record.type, bounce, rejected)
        if reason is None and is_soft_bounce(record.type, bounce):
            since = now - SOFT_BOUNCE_WINDOW
            earlier = await self._events.soft_bounces(found.tenant, record.recipient_key, since)
            if earlier + 1 >= SOFT_BOUNCE_LIMIT:
                reason = Reason.REPEATED_SOFT_BOUNCE
        if reason is None:
            return
        entry = NewSuppression(
            address=found.addresses[index],
            reason=reason,
            expires_at=expiry(reason, now),
            provider=record.provider,
            event=str(record.type),
            email_id=found.email_id,
        )
        batch.suppress.setdefault(found.tenant, []).append(entry)
        log_event(
            log, "address.suppressed", id=found.email_id, reason=reason, provider=record.provider
        )

    def _count(self, resolved: Sequence[Resolved]) -> None:
        for item in resolved:
            if item.resolution is not Resolution.LATER:
                self._metrics.event_processed(str(item.resolution))


class TellCancelled:
    """A cancelled email's `cancelled` event for each recipient: the feed and the
    application's webhooks hear of a cancel as of any other end."""

    def __init__(self, record: RecordEvents, emails: EmailStore, content: Content) -> None:
        self._record = record
        self._emails = emails
        self._content = content

    async def __call__(self, email_id: str) -> None:
        stored = await self._emails.content(email_id)
        email = self._open_stored(stored, email_id)
        if email is None:
            return
        indices = range(len(email.recipients()))
        tenant = email.tenant or DEFAULT_TENANT
        await self._record.own(email_id, tenant, indices, EventType.CANCELLED, "")

    def _open_stored(self, stored: tuple[str, bytes] | None, email_id: str) -> Email | None:
        if stored is None or not stored[1]:
            return None
        try:
            return self._content.open_email(stored[1], email_id)
        except CipherError:
            return None
