"""Delivery of one leased email: attempt with each provider in order, then settle the lease."""

import logging
import random
from collections.abc import Callable, Sequence

from postroom.codec import decode_email
from postroom.domain.errors import PermanentError, ProviderError
from postroom.domain.ids import message_id_header
from postroom.domain.retry import RetryPolicy
from postroom.domain.states import State
from postroom.logs import get_logger, log_event
from postroom.ports.clock import Clock
from postroom.ports.provider import Outgoing, Provider, Receipt
from postroom.ports.queue import Event, Lease, Queue

log = get_logger("deliver")


class DeliverEmail:
    def __init__(
        self,
        queue: Queue,
        providers: Sequence[Provider],
        clock: Clock,
        policy: RetryPolicy | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._queue = queue
        self._providers = providers
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._rand = rand

    async def __call__(self, lease: Lease) -> None:
        """Send the leased email through the first provider that takes it, then settle."""
        email = decode_email(lease.payload)
        domain = email.sender.email.rpartition("@")[2]
        outgoing = Outgoing(lease.id, email, message_id_header(lease.id, domain))
        last_error: ProviderError | None = None
        for provider in self._providers:
            try:
                receipt = await provider.send(outgoing)
            except PermanentError as error:
                await self._fail(lease, provider.name, error)
                return
            except ProviderError as error:
                log_event(
                    log,
                    "provider.error",
                    logging.WARNING,
                    id=lease.id,
                    provider=provider.name,
                    code=error.code,
                )
                last_error = error
                continue
            await self._sent(lease, receipt)
            return
        await self._retry_or_give_up(lease, last_error)

    async def _sent(self, lease: Lease, receipt: Receipt) -> None:
        event = Event(self._clock.now(), State.SENT, receipt.provider, receipt.message_id)
        if await self._queue.ack(lease, event):
            log_event(
                log, "email.sent", id=lease.id, provider=receipt.provider, attempt=lease.attempt
            )

    async def _fail(self, lease: Lease, provider: str, error: ProviderError) -> None:
        event = Event(self._clock.now(), State.FAILED, provider, _reason(error))
        if await self._queue.dead_letter(lease, event):
            log_event(
                log,
                "email.failed",
                logging.WARNING,
                id=lease.id,
                provider=provider,
                code=error.code,
            )

    async def _retry_or_give_up(self, lease: Lease, error: ProviderError | None) -> None:
        now = self._clock.now()
        reason = _reason(error) if error else "no provider configured"
        if self._policy.gives_up(lease.attempt, now - lease.created_at):
            event = Event(
                now, State.FAILED, "", f"gave up after {lease.attempt} attempts: {reason}"
            )
            if await self._queue.dead_letter(lease, event):
                log_event(
                    log, "email.dead_lettered", logging.WARNING, id=lease.id, attempt=lease.attempt
                )
            return
        at = now + self._policy.delay(lease.attempt, self._rand())
        if await self._queue.retry(lease, at, Event(now, State.RETRYING, "", reason)):
            log_event(
                log, "email.retrying", id=lease.id, attempt=lease.attempt, delay=round(at - now, 1)
            )


def _reason(error: ProviderError) -> str:
    return f"{error.code}: {error.detail}" if error.detail else error.code
