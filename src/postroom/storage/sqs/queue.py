"""Amazon SQS as the queue, with a SQL store beside it (SQLite or PostgreSQL) for everything else.

This module is the Queue (and Requeue) port; every other port of an `sqs://` Storage is the
store's own object.

The store keeps each email, its state and its events, as it does alone; SQS carries only ids and
decides which worker gets which. A received id is claimed in the store (ports/claims.py) before
it is sent (the store's Claims), so what SQS cannot promise the store does:

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
import secrets
from collections.abc import Sequence

from postroom.domain.errors import StorageFullError, StorageUnavailableError
from postroom.domain.states import NEW
from postroom.logs import get_logger, log_event
from postroom.ports.claims import Claims
from postroom.ports.clock import Clock
from postroom.ports.lifecycle import Lifecycle
from postroom.ports.queue import Event, Lease, NewEmail, PutOutcome, PutResult, Queue, QueueStats
from postroom.storage.sqs.client import MAX_VISIBILITY, SqsCallError
from postroom.storage.sqs.messages import Message, SqsMessages, quietly

log = get_logger("sqs")

# A message received this many times is replaced by a fresh one when it is postponed, so its
# receive count stays far below the redrive policy's maxReceiveCount.
REFRESH_AFTER = 5
# Keeps a visibility change clear of SQS's 12-hour limit (counted from the receipt).
_MARGIN = 60
# How long a message stays hidden when the store could not be asked about it.
_STORE_DOWN_VISIBILITY = 30


class SqsQueue:
    """The Queue and Requeue ports: SQS carries ids, the store's queue and claims the rest."""

    def __init__(
        self,
        messages: SqsMessages,
        store: Queue,
        claims: Claims,
        store_lifecycle: Lifecycle,
        clock: Clock,
    ) -> None:
        self._sqs = messages
        self._store = store
        self._claims = claims
        self._store_lifecycle = store_lifecycle
        self._clock = clock
        self._held: dict[tuple[str, str], Message] = {}
        self._store_down = False

    def __repr__(self) -> str:
        options = self._sqs.sqs.options
        return f"SqsQueue({options.region}/{options.name})"

    async def put(self, email: NewEmail) -> PutResult:
        """Store, then queue; if the queue refuses, forget the email and answer unavailable."""
        result = await self._store.put(email)
        # A duplicate that is still waiting is queued again: its first put may have been
        # stored but not queued. A second message is harmless (see the module's docstring).
        if result.outcome is PutOutcome.CONFLICT or result.state not in NEW:
            return result
        try:
            await self._sqs.send(result.id, email.not_before, dedup=result.id)
        except StorageUnavailableError:
            if result.outcome is PutOutcome.CREATED:
                await self._withdraw(result.id)
            raise
        return result

    async def put_many(self, emails: Sequence[NewEmail]) -> list[PutResult]:
        """The store's one write for the batch, then its messages, which the sender coalesces
        into SendMessageBatch calls of 10. If the queue refuses any, the new emails of the
        batch are forgotten and the whole batch answers unavailable."""
        results = await self._store.put_many(emails)
        queued = [
            (result, email)
            for result, email in zip(results, emails, strict=True)
            if result.outcome is not PutOutcome.CONFLICT and result.state in NEW
        ]
        sent = await asyncio.gather(
            *(self._sqs.send(r.id, e.not_before, dedup=r.id) for r, e in queued),
            return_exceptions=True,
        )
        failed = [error for error in sent if isinstance(error, BaseException)]
        if failed:
            for result, _ in queued:
                if result.outcome is PutOutcome.CREATED:
                    await self._withdraw(result.id)
            raise StorageUnavailableError("sqs: the batch could not be queued") from failed[0]
        return results

    async def _withdraw(self, email_id: str) -> None:
        try:
            await self._claims.withdraw(email_id)
        except StorageUnavailableError:
            # Stored, not queued, and the client told no: `postroom sqs requeue` finds it.
            log_event(log, "sqs.withdraw_failed", logging.WARNING, id=email_id)

    async def lease(self, limit: int, visibility: float) -> list[Lease]:
        if limit < 1:
            return []
        if self._store_down:
            # Receive nothing until the store can claim again. A store full to its intake cap
            # still leases and settles: only new email is refused.
            with contextlib.suppress(StorageFullError):
                await self._store_lifecycle.ping()
            self._store_down = False
        self._forget_lapsed()
        messages = await self._sqs.receive(limit, visibility)
        if not messages:
            return []
        first: dict[str, Message] = {}
        for message in messages:
            first.setdefault(message.id, message)
        try:
            claimed = await self._claims.claim(list(first), visibility)
        except StorageUnavailableError:
            self._store_down = True
            await quietly("hide", self._sqs.hide_all(messages, _STORE_DOWN_VISIBILITY))
            raise
        extra = [m for m in messages if first[m.id] is not m]
        later = claimed.later.items()
        gone = [first[i] for i in claimed.gone] + extra
        # Concurrently, so the calls share batches.
        await asyncio.gather(
            quietly("delete", self._sqs.delete_all(gone)),
            *(quietly("postpone", self._postpone(first[i], at)) for i, at in later),
        )
        for lease in claimed.leases:
            first[lease.id].expires_at = lease.expires_at
            self._held[(lease.id, lease.token)] = first[lease.id]
        order = {email_id: n for n, email_id in enumerate(first)}
        return sorted(claimed.leases, key=lambda lease: order[lease.id])

    async def extend(self, lease: Lease, visibility: float) -> bool:
        return (await self.extend_all([lease], visibility))[0]

    async def extend_all(self, leases: Sequence[Lease], visibility: float) -> list[bool]:
        """The store's leases first (they decide); then the held messages' visibility, in
        concurrent calls that share SQS batches."""
        held = await self._store.extend_all(leases, visibility)
        await asyncio.gather(
            *(
                self._hide_longer(lease, visibility)
                for lease, ok in zip(leases, held, strict=True)
                if ok
            )
        )
        return held

    async def _hide_longer(self, lease: Lease, visibility: float) -> None:
        message = self._held.get((lease.id, lease.token))
        if message is None:
            return
        now = self._clock.now()
        message.expires_at = now + visibility
        if now - message.received_at + visibility <= MAX_VISIBILITY:
            await quietly("extend", self._sqs.hide(message.receipt, visibility))

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
            await quietly("postpone", self._postpone(message, at))
        return settled

    async def _finish(self, lease: Lease, settled: bool) -> bool:
        """Delete the message of a settled lease. A lost lease's message is another worker's
        now: it stays. A failed delete only means the message comes back and is deleted then."""
        message = self._held.pop((lease.id, lease.token), None)
        if settled and message is not None:
            await quietly("delete", self._sqs.delete(message.receipt))
        return settled

    async def stats(self) -> QueueStats:
        # The store knows each email's state and time exactly; SQS's counts are approximate
        # and include postponed and duplicate messages.
        return await self._store.stats()

    async def _postpone(self, message: Message, at: float) -> None:
        """Hide the message until `at`, or for as much of SQS's 12 hours from its receipt as
        is left (it comes back and is hidden again). A message received often, or with no
        time left, is replaced by a fresh one instead."""
        now = self._clock.now()
        delay = max(1, math.ceil(at - now))
        room = math.floor(MAX_VISIBILITY - (now - message.received_at) - _MARGIN)
        if message.receives < REFRESH_AFTER and room >= 1:
            try:
                await self._sqs.hide(message.receipt, min(delay, room))
                return
            except SqsCallError as error:
                if error.code != "InvalidParameterValue":
                    raise
            # Past the 12 hours: they may count from the message's send, not its receipt.
        await self._sqs.send(message.id, at, dedup=f"{message.id}.{secrets.token_hex(8)}")
        await self._sqs.delete(message.receipt)

    def _forget_lapsed(self) -> None:
        """Drop the receipts of leases never settled (their send crashed) once they lapsed."""
        now = self._clock.now()
        for key in [k for k, m in self._held.items() if m.expires_at < now - _MARGIN]:
            del self._held[key]

    # -- Requeue

    async def requeue(self, after: str = "", limit: int = 500) -> tuple[int, str | None]:
        """Heals emails whose message was lost: a page of the store's waiting emails."""
        page = await self._claims.waiting(after, limit)
        await self._sqs.send_all(page)
        return len(page), (page[-1][0] if page else None)

    async def enqueue(self, ids: list[str]) -> None:
        await self._sqs.send_all([(email_id, self._clock.now()) for email_id in ids])
