"""The SQS engine's one connection object: the client and the batched calls (send, hide,
delete; at most 10 entries each) that the queue, requeue and lifecycle share."""

import asyncio
import contextlib
import logging
import math
import re
import secrets
from dataclasses import dataclass
from typing import Any

from postroom.domain.errors import StorageUnavailableError
from postroom.logs import get_logger, log_event
from postroom.ports.clock import Clock
from postroom.storage.coalesce import Coalescer, Row
from postroom.storage.sqs.client import (
    MAX_BATCH,
    MAX_DELAY,
    MAX_VISIBILITY,
    SqsCallError,
    SqsClient,
    SqsOptions,
    failures,
)

log = get_logger("sqs")

# Receives in parallel when a worker wants more than one batch (10 messages each).
_RECEIVE_CALLS = 5
_EMAIL_ID = re.compile(r"[0-9A-Za-z-]{1,64}")


@dataclass(slots=True)
class Message:
    id: str
    receipt: str
    receives: int
    received_at: float
    expires_at: float = 0.0  # of the lease it backs, for forgetting leases never settled


async def quietly(action: str, work: Any) -> None:
    """For SQS calls whose failure the store makes harmless: the message comes back when its
    visibility lapses, and the store says then what to do with it."""
    try:
        await work
    except StorageUnavailableError as error:
        log_event(log, "sqs.call_failed", logging.WARNING, action=action, error=str(error))


class SqsMessages:
    def __init__(self, options: SqsOptions, clock: Clock) -> None:
        self._clock = clock
        self.sqs = SqsClient(options)
        self._fifo = options.fifo
        self._wait = options.wait
        self._sends = Coalescer(self._send_batch, parallel=8, max_rows=MAX_BATCH)
        self._deletes = Coalescer(self._delete_batch, parallel=8, max_rows=MAX_BATCH)
        self._hides = Coalescer(self._hide_batch, parallel=8, max_rows=MAX_BATCH)

    async def receive(self, limit: int, visibility: float) -> list[Message]:
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

    async def _receive_batch(self, count: int, hidden: int, wait: int) -> list[Message]:
        async with self.sqs.call() as (client, url):
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
                await quietly("delete", self.delete(receipt))
                continue
            messages.append(Message(body, receipt, receives, now))
        return messages

    async def send(self, email_id: str, at: float, dedup: str) -> None:
        """Queue the id; a standard queue holds it back until `at`, up to 15 minutes."""
        delay = min(MAX_DELAY, max(0, math.ceil(at - self._clock.now())))
        await _check(self._sends.submit((email_id, delay, dedup)))

    async def send_all(self, emails: list[tuple[str, float]]) -> None:
        """Queue these (id, due time) again: fresh messages, so FIFO deduplication lets them in."""
        await asyncio.gather(
            *(self.send(i, at, dedup=f"{i}.{secrets.token_hex(8)}") for i, at in emails)
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
        async with self.sqs.call() as (client, url):
            reply = await client.send_message_batch(QueueUrl=url, Entries=entries)
        return failures(reply, len(rows))

    async def hide(self, receipt: str, seconds: float) -> None:
        await _check(self._hides.submit((receipt, min(MAX_VISIBILITY, math.ceil(seconds)))))

    async def hide_all(self, messages: list[Message], seconds: int) -> None:
        await asyncio.gather(*(self.hide(message.receipt, seconds) for message in messages))

    async def _hide_batch(self, rows: list[Row]) -> list[str | None]:
        entries = [
            {"Id": str(n), "ReceiptHandle": receipt, "VisibilityTimeout": seconds}
            for n, (receipt, seconds) in enumerate(rows)
        ]
        async with self.sqs.call() as (client, url):
            reply = await client.change_message_visibility_batch(QueueUrl=url, Entries=entries)
        return failures(reply, len(rows))

    async def delete(self, receipt: str) -> None:
        await _check(self._deletes.submit((receipt,)))

    async def delete_all(self, messages: list[Message]) -> None:
        await asyncio.gather(*(self.delete(message.receipt) for message in messages))

    async def _delete_batch(self, rows: list[Row]) -> list[str | None]:
        entries = [{"Id": str(n), "ReceiptHandle": receipt} for n, (receipt,) in enumerate(rows)]
        async with self.sqs.call() as (client, url):
            reply = await client.delete_message_batch(QueueUrl=url, Entries=entries)
        return failures(reply, len(rows))

    async def ping(self) -> None:
        async with self.sqs.call() as (client, url):
            await client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])

    async def close(self) -> None:
        for batcher in (self._sends, self._deletes, self._hides):
            await batcher.drain()
        with contextlib.suppress(Exception):
            await self.sqs.close()


async def _check(result: Any) -> None:
    code = await result
    if code is not None:
        raise SqsCallError(code)
