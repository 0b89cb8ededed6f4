"""Amazon SQS as the queue, with a SQL store beside it (SQLite or PostgreSQL) for everything else.

The store keeps each email, its state and its events, as it does alone; SQS carries only ids and
decides which worker gets which. A received id is claimed in the store (ports/claims.py) before
it is sent, so what SQS cannot promise the store does:

- SQS delivers at least once: a second copy of a message finds the email held or sent, and is
  postponed or deleted, never sent twice.
- SQS delays a message 15 minutes at most, and a FIFO queue not at all per message: a message that
  arrives before its email is due is hidden again (its visibility) until then.
- Postponing is a receive, and a queue's redrive policy moves a message to the dead-letter queue
  after so many receives: so a message received often is replaced by a fresh one, and only a
  message that workers keep taking and never settle (one that crashes them) reaches the DLQ.

The design, its limits and what the local emulator does not show are in docs/sqs.md.
"""

import asyncio
import contextlib
import logging
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from postroom.domain.errors import StorageUnavailableError
from postroom.domain.states import State
from postroom.logs import get_logger, log_event
from postroom.ports.backend import StoreBackend
from postroom.ports.clock import Clock
from postroom.ports.dead import DeadLetter
from postroom.ports.keys import ApiKey
from postroom.ports.queue import Event, Lease, NewEmail, PutOutcome, PutResult, QueueStats
from postroom.ports.sealed import Reseal, ResealText
from postroom.ports.store import CancelOutcome, EmailStatus
from postroom.queues.coalesce import Coalescer, Row
from postroom.queues.sqs_client import (
    MAX_BATCH,
    MAX_DELAY,
    MAX_VISIBILITY,
    SqsCallError,
    SqsClient,
    SqsOptions,
    failures,
    parse_url,
)

log = get_logger("sqs")

# A message received this many times is replaced by a fresh one when it is postponed, so its
# receive count stays far below the redrive policy's maxReceiveCount.
REFRESH_AFTER = 5
# Keeps a visibility change clear of SQS's 12-hour limit (counted from the receipt).
_MARGIN = 60
# How long a message stays hidden when the store could not be asked about it.
_STORE_DOWN_VISIBILITY = 30
# Receives in parallel when a worker wants more than one batch (10 messages each).
_RECEIVE_CALLS = 5
_EMAIL_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
_WAITING = (State.QUEUED, State.SCHEDULED)


@dataclass(slots=True)
class _Message:
    id: str
    receipt: str
    receives: int
    received_at: float
    expires_at: float = 0.0  # of the lease it backs, for forgetting leases never settled


class SqsQueue:
    """The Backend port: the queue operations over SQS and the store, the rest the store's."""

    def __init__(self, store: StoreBackend, options: SqsOptions, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._sqs = SqsClient(options)
        self._fifo = options.fifo
        self._wait = options.wait
        self._held: dict[tuple[str, str], _Message] = {}
        self._store_down = False
        self._sends = Coalescer(self._send_batch, parallel=8, max_rows=MAX_BATCH)
        self._deletes = Coalescer(self._delete_batch, parallel=8, max_rows=MAX_BATCH)
        self._hides = Coalescer(self._hide_batch, parallel=8, max_rows=MAX_BATCH)

    @classmethod
    def from_url(cls, url: str, store: StoreBackend, clock: Clock) -> "SqsQueue":
        return cls(store, parse_url(url), clock)

    @property
    def store(self) -> StoreBackend:
        return self._store

    def __repr__(self) -> str:
        options = self._sqs.options
        return f"SqsQueue({options.region}/{options.name}, store={self._store!r})"

    # -- Queue

    async def put(self, email: NewEmail) -> PutResult:
        """Store, then queue; if the queue refuses, forget the email and answer unavailable."""
        result = await self._store.put(email)
        # A duplicate that is still waiting is queued again: its first put may have been
        # stored but not queued. A second message is harmless (see the module's docstring).
        if result.outcome is PutOutcome.CONFLICT or result.state not in _WAITING:
            return result
        try:
            await self._send(result.id, email.not_before, dedup=result.id)
        except StorageUnavailableError:
            if result.outcome is PutOutcome.CREATED:
                await self._withdraw(result.id)
            raise
        return result

    async def _withdraw(self, email_id: str) -> None:
        try:
            await self._store.withdraw(email_id)
        except StorageUnavailableError:
            # Stored, not queued, and the client told no: `postroom sqs requeue` finds it.
            log_event(log, "sqs.withdraw_failed", logging.WARNING, id=email_id)

    async def lease(self, limit: int, visibility: float) -> list[Lease]:
        if limit < 1:
            return []
        if self._store_down:
            await self._store.ping()  # receive nothing until the store can claim it
            self._store_down = False
        self._forget_lapsed()
        messages = await self._receive(limit, visibility)
        if not messages:
            return []
        first: dict[str, _Message] = {}
        for message in messages:
            first.setdefault(message.id, message)
        try:
            claimed = await self._store.claim(list(first), visibility)
        except StorageUnavailableError:
            self._store_down = True
            await self._quietly("hide", self._hide_all(messages, _STORE_DOWN_VISIBILITY))
            raise
        extra = [m for m in messages if first[m.id] is not m]
        later = claimed.later.items()
        gone = [first[i] for i in claimed.gone] + extra
        # Concurrently, so the calls share batches.
        await asyncio.gather(
            self._quietly("delete", self._delete_all(gone)),
            *(self._quietly("postpone", self._postpone(first[i], at)) for i, at in later),
        )
        for lease in claimed.leases:
            first[lease.id].expires_at = lease.expires_at
            self._held[(lease.id, lease.token)] = first[lease.id]
        order = {email_id: n for n, email_id in enumerate(first)}
        return sorted(claimed.leases, key=lambda lease: order[lease.id])

    async def extend(self, lease: Lease, visibility: float) -> bool:
        if not await self._store.extend(lease, visibility):
            return False
        message = self._held.get((lease.id, lease.token))
        if message is not None:
            now = self._clock.now()
            message.expires_at = now + visibility
            if now - message.received_at + visibility <= MAX_VISIBILITY:
                await self._quietly("extend", self._hide(message.receipt, visibility))
        return True

    async def ack(self, lease: Lease, event: Event, attempts: Sequence[Event] = ()) -> bool:
        return await self._finish(lease, await self._store.ack(lease, event, attempts))

    async def dead_letter(self, lease: Lease, event: Event, attempts: Sequence[Event] = ()) -> bool:
        # The store keeps dead letters (`postroom dead`); the SQS DLQ is for poison messages.
        return await self._finish(lease, await self._store.dead_letter(lease, event, attempts))

    async def retry(
        self, lease: Lease, at: float, event: Event, attempts: Sequence[Event] = ()
    ) -> bool:
        settled = await self._store.retry(lease, at, event, attempts)
        message = self._held.pop((lease.id, lease.token), None)
        if settled and message is not None:
            await self._quietly("postpone", self._postpone(message, at))
        return settled

    async def _finish(self, lease: Lease, settled: bool) -> bool:
        """Delete the message of a settled lease. A lost lease's message is another worker's
        now: it stays. A failed delete only means the message comes back and is deleted then."""
        message = self._held.pop((lease.id, lease.token), None)
        if settled and message is not None:
            await self._quietly("delete", self._delete(message.receipt))
        return settled

    async def stats(self) -> QueueStats:
        # The store knows each email's state and time exactly; SQS's counts are approximate
        # and include postponed and duplicate messages.
        return await self._store.stats()

    # -- SQS operations

    async def _receive(self, limit: int, visibility: float) -> list[_Message]:
        """Long-poll for up to 10 messages; when that batch is full, take more at once."""
        hidden = min(MAX_VISIBILITY, math.ceil(visibility))
        first = await self._receive_batch(min(limit, MAX_BATCH), hidden, self._wait)
        if len(first) < MAX_BATCH or limit <= MAX_BATCH:
            return first
        sizes = [min(MAX_BATCH, limit - n) for n in range(MAX_BATCH, limit, MAX_BATCH)]
        more = await asyncio.gather(
            *(self._receive_batch(size, hidden, 0) for size in sizes[:_RECEIVE_CALLS]),
            return_exceptions=True,
        )
        # A failed extra call loses nothing: what the others received is used now.
        return first + [m for batch in more if isinstance(batch, list) for m in batch]

    async def _receive_batch(self, count: int, hidden: int, wait: int) -> list[_Message]:
        async with self._sqs.call() as (client, url):
            reply = await client.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=count,
                VisibilityTimeout=hidden,
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
        now = self._clock.now()
        messages = []
        for raw in reply.get("Messages", []):
            receives = int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            body, receipt = raw.get("Body", ""), raw["ReceiptHandle"]
            if not _EMAIL_ID.fullmatch(body):
                # Not one of ours: left alone it would come back forever.
                log_event(log, "sqs.foreign_message", logging.WARNING)
                await self._quietly("delete", self._delete(receipt))
                continue
            messages.append(_Message(body, receipt, receives, now))
        return messages

    async def _send(self, email_id: str, at: float, dedup: str) -> None:
        """Queue the id; a standard queue holds it back until `at`, up to 15 minutes."""
        delay = min(MAX_DELAY, max(0, math.ceil(at - self._clock.now())))
        await self._check(self._sends.submit((email_id, delay, dedup)))

    async def _send_all(self, emails: list[tuple[str, float]]) -> None:
        """Queue these (id, due time) again: fresh messages, so FIFO deduplication lets them in."""
        await asyncio.gather(
            *(self._send(i, at, dedup=f"{i}.{secrets.token_hex(8)}") for i, at in emails)
        )

    async def _send_batch(self, rows: list[Row]) -> list[str | None]:
        entries = []
        for n, (email_id, delay, dedup) in enumerate(rows):
            entry: dict[str, Any] = {"Id": str(n), "MessageBody": email_id}
            if self._fifo:
                # One group per email: an email waiting never holds up another.
                entry |= {"MessageGroupId": email_id, "MessageDeduplicationId": dedup}
            elif delay:
                entry["DelaySeconds"] = delay
            entries.append(entry)
        async with self._sqs.call() as (client, url):
            reply = await client.send_message_batch(QueueUrl=url, Entries=entries)
        return failures(reply, len(rows))

    async def _postpone(self, message: _Message, at: float) -> None:
        """Hide the message until `at`, or for as much of SQS's 12 hours from its receipt as
        is left (it comes back and is hidden again). A message received often, or with no
        time left, is replaced by a fresh one instead."""
        now = self._clock.now()
        delay = max(1, math.ceil(at - now))
        room = math.floor(MAX_VISIBILITY - (now - message.received_at) - _MARGIN)
        if message.receives < REFRESH_AFTER and room >= 1:
            try:
                await self._hide(message.receipt, min(delay, room))
                return
            except SqsCallError as error:
                if error.code != "InvalidParameterValue":
                    raise
            # Past the 12 hours: they may count from the message's send, not its receipt.
        await self._send(message.id, at, dedup=f"{message.id}.{secrets.token_hex(8)}")
        await self._delete(message.receipt)

    async def _hide(self, receipt: str, seconds: float) -> None:
        await self._check(self._hides.submit((receipt, min(MAX_VISIBILITY, math.ceil(seconds)))))

    async def _hide_all(self, messages: list[_Message], seconds: int) -> None:
        await asyncio.gather(*(self._hide(message.receipt, seconds) for message in messages))

    async def _hide_batch(self, rows: list[Row]) -> list[str | None]:
        entries = [
            {"Id": str(n), "ReceiptHandle": receipt, "VisibilityTimeout": seconds}
            for n, (receipt, seconds) in enumerate(rows)
        ]
        async with self._sqs.call() as (client, url):
            reply = await client.change_message_visibility_batch(QueueUrl=url, Entries=entries)
        return failures(reply, len(rows))

    async def _delete(self, receipt: str) -> None:
        await self._check(self._deletes.submit((receipt,)))

    async def _delete_all(self, messages: list[_Message]) -> None:
        await asyncio.gather(*(self._delete(message.receipt) for message in messages))

    async def _delete_batch(self, rows: list[Row]) -> list[str | None]:
        entries = [{"Id": str(n), "ReceiptHandle": receipt} for n, (receipt,) in enumerate(rows)]
        async with self._sqs.call() as (client, url):
            reply = await client.delete_message_batch(QueueUrl=url, Entries=entries)
        return failures(reply, len(rows))

    @staticmethod
    async def _check(result: Any) -> None:
        code = await result
        if code is not None:
            raise SqsCallError(code)

    @staticmethod
    async def _quietly(action: str, work: Any) -> None:
        """For SQS calls whose failure the store makes harmless: the message comes back when
        its visibility lapses, and the store says then what to do with it."""
        try:
            await work
        except StorageUnavailableError as error:
            log_event(log, "sqs.call_failed", logging.WARNING, action=action, error=str(error))

    def _forget_lapsed(self) -> None:
        """Drop the receipts of leases never settled (their send crashed) once they lapsed."""
        now = self._clock.now()
        for key in [k for k, m in self._held.items() if m.expires_at < now - _MARGIN]:
            del self._held[key]

    # -- operations that reach SQS as well as the store

    async def redrive(self, ids: list[str]) -> list[str]:
        done = await self._store.redrive(ids)
        try:
            await self._send_all([(email_id, self._clock.now()) for email_id in done])
        except StorageUnavailableError as error:
            raise StorageUnavailableError(
                f"{error}: redriven in the store but not all queued; run `postroom sqs requeue`"
            ) from None
        return done

    async def requeue(self, after: str = "", limit: int = 500) -> tuple[int, str | None]:
        """Send a message for each waiting email in a page of the store (ids above `after`):
        heals emails whose message was lost. (how many, the last id or None when done)."""
        page = await self._store.waiting(after, limit)
        await self._send_all(page)
        return len(page), (page[-1][0] if page else None)

    async def ping(self) -> None:
        await self._store.ping()
        async with self._sqs.call() as (client, url):
            await client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])

    async def close(self) -> None:
        for batcher in (self._sends, self._deletes, self._hides):
            await batcher.drain()
        with contextlib.suppress(Exception):
            await self._sqs.close()
        await self._store.close()

    # -- the store's, unchanged

    async def status(self, email_id: str) -> EmailStatus | None:
        return await self._store.status(email_id)

    async def cancel(self, email_id: str) -> tuple[CancelOutcome, State | None]:
        # The message stays; when it arrives, the store says cancelled and it is deleted.
        return await self._store.cancel(email_id)

    async def count_since(self, owner: str, since: float) -> int:
        return await self._store.count_since(owner, since)

    async def dead(self, limit: int, after: str = "") -> list[DeadLetter]:
        return await self._store.dead(limit, after)

    async def sample_payload(self) -> tuple[str, bytes] | None:
        return await self._store.sample_payload()

    async def reseal_page(
        self, after: str, limit: int, payload: Reseal, reason: ResealText
    ) -> tuple[int, str | None]:
        return await self._store.reseal_page(after, limit, payload, reason)

    async def purge_content(self, before: float) -> int:
        return await self._store.purge_content(before)

    async def count_emails(self) -> int:
        return await self._store.count_emails()

    async def create_key(self, key_id: str, name: str, token_hash: str, prefix: str) -> ApiKey:
        return await self._store.create_key(key_id, name, token_hash, prefix)

    async def active_keys(self) -> dict[str, ApiKey]:
        return await self._store.active_keys()

    async def list_keys(self) -> list[ApiKey]:
        return await self._store.list_keys()

    async def revoke_key(self, id_or_prefix: str) -> ApiKey | None:
        return await self._store.revoke_key(id_or_prefix)

    async def touch_keys(self, used: dict[str, float]) -> None:
        await self._store.touch_keys(used)
