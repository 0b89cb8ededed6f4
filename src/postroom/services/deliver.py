"""Delivery of one leased email: lease → attempt (with failover) → settle.

The decisions are the pure router's (domain/router.py); this module only performs them:
calls the provider, keeps the lease alive, records the outcome.
"""

import logging
import random
import time
from collections.abc import Callable, Sequence

from postroom.domain.circuit import Failure
from postroom.domain.errors import (
    CipherError,
    MisconfiguredError,
    PermanentError,
    ProviderError,
    ThrottledError,
    UnsupportedError,
)
from postroom.domain.ids import message_id_header
from postroom.domain.retry import RetryPolicy
from postroom.domain.router import Action, Attempt, Decision, after_failure, next_step
from postroom.domain.states import State
from postroom.logs import get_logger, log_event
from postroom.ports.clock import Clock
from postroom.ports.metrics import Metrics, NullMetrics
from postroom.ports.provider import Outgoing, Provider, Receipt
from postroom.ports.queue import Event, Lease, Queue
from postroom.services.content import Content, NoCipher
from postroom.services.health import LocalHealth

log = get_logger("deliver")

# Extend a lease when less than this is left before a provider call (the longest a call may
# take plus a margin), so a slow failover chain never lets the email reappear mid-send.
LEASE_MARGIN = 5.0


def classify(error: BaseException) -> Failure:
    if isinstance(error, UnsupportedError):
        return Failure.UNSUPPORTED
    if isinstance(error, PermanentError):
        return Failure.PERMANENT
    if isinstance(error, ThrottledError):
        return Failure.THROTTLED
    if isinstance(error, MisconfiguredError):
        return Failure.MISCONFIGURED
    return Failure.DOWN  # ProviderDownError, and any bug inside an adapter


class DeliverEmail:
    def __init__(
        self,
        queue: Queue,
        providers: Sequence[Provider],
        clock: Clock,
        *,
        health: LocalHealth | None = None,
        policy: RetryPolicy | None = None,
        metrics: Metrics | None = None,
        visibility: float = 120.0,
        call_timeout: float = 15.0,
        rand: Callable[[], float] = random.random,
        content: Content | None = None,
    ) -> None:
        self._queue = queue
        self._providers = list(providers)
        self._clock = clock
        self._health = health or LocalHealth([p.name for p in self._providers])
        self._policy = policy or RetryPolicy()
        self._metrics = metrics or NullMetrics()
        self._visibility = visibility
        self._call_timeout = call_timeout
        self._rand = rand
        self._content = content or Content(NoCipher())

    async def __call__(self, lease: Lease) -> None:
        """Send the leased email through the first provider that takes it, then settle."""
        try:
            email = self._content.open_email(lease.payload, lease.id)
        except CipherError as error:
            # Never guess: an email that does not open is dead-lettered, not sent as garbage.
            await self._give_back(lease, Decision(Action.FAIL, reason=f"cannot decrypt: {error}"))
            return
        domain = email.sender.email.rpartition("@")[2]
        outgoing = Outgoing(lease.id, email, message_id_header(lease.id, domain))
        attempt = Attempt(lease.attempt, self._clock.now() - lease.created_at)
        while True:
            now = self._clock.now()
            decision = next_step(attempt, self._health.circuits(), now, self._policy, self._rand())
            if decision.action is not Action.SEND:
                await self._give_back(lease, decision)
                return
            lease = await self._keep(lease)
            outcome = await self._try(lease, outgoing, attempt, decision.provider)
            if isinstance(outcome, Attempt):
                attempt = outcome
                continue
            if isinstance(outcome, Decision):
                await self._give_back(lease, outcome)
            return

    async def _try(
        self, lease: Lease, outgoing: Outgoing, attempt: Attempt, index: int
    ) -> Attempt | Decision | None:
        """One provider call: None when sent and settled, else what to do next."""
        provider = self._providers[index]
        self._health.attempt(index, self._clock.now())
        started = time.perf_counter()
        try:
            receipt = await provider.send(outgoing)
        except Exception as error:
            return self._failed(lease, attempt, index, error, time.perf_counter() - started)
        self._metrics.provider_call(provider.name, "sent", time.perf_counter() - started)
        self._health.success(index)
        await self._sent(lease, receipt)
        return None

    def _failed(
        self, lease: Lease, attempt: Attempt, index: int, error: Exception, seconds: float
    ) -> Attempt | Decision:
        name = self._providers[index].name
        failure = classify(error)
        code = error.code if isinstance(error, ProviderError) else f"bug:{type(error).__name__}"
        retry_after = error.retry_after if isinstance(error, ProviderError) else None
        self._metrics.provider_call(name, failure, seconds)
        self._health.failure(index, failure, self._clock.now(), retry_after)
        log_event(
            log,
            "provider.failed",
            logging.WARNING,
            id=lease.id,
            provider=name,
            failure=failure,
            code=code,
        )
        result = after_failure(attempt, index, failure, f"{name}: {_reason(error)}", retry_after)
        if isinstance(result, Attempt):
            self._metrics.failover(name)
        return result

    async def _keep(self, lease: Lease) -> Lease:
        """Extend the lease if the next call could outlast it."""
        now = self._clock.now()
        if lease.expires_at - now >= self._call_timeout + LEASE_MARGIN:
            return lease
        await self._queue.extend(lease, self._visibility)
        return Lease(
            lease.id,
            lease.token,
            lease.payload,
            lease.attempt,
            lease.created_at,
            now + self._visibility,
        )

    async def _sent(self, lease: Lease, receipt: Receipt) -> None:
        event = Event(self._clock.now(), State.SENT, receipt.provider, receipt.message_id)
        if await self._queue.ack(lease, event):
            self._metrics.settled("sent", receipt.provider)
            log_event(
                log, "email.sent", id=lease.id, provider=receipt.provider, attempt=lease.attempt
            )

    async def _give_back(self, lease: Lease, decision: Decision) -> None:
        now = self._clock.now()
        reason = self._content.seal_text(decision.reason, lease.id)
        if decision.action is Action.RETRY:
            event = Event(now, State.RETRYING, "", reason)
            if await self._queue.retry(lease, decision.at, event):
                self._metrics.settled("retried")
                log_event(
                    log,
                    "email.retrying",
                    id=lease.id,
                    attempt=lease.attempt,
                    delay=round(decision.at - now, 1),
                )
            return
        provider = self._providers[decision.provider].name if decision.provider >= 0 else ""
        event = Event(now, State.FAILED, provider, reason)
        if await self._queue.dead_letter(lease, event):
            self._metrics.settled("failed" if provider else "dead_lettered", provider)
            log_event(
                log,
                "email.failed",
                logging.WARNING,
                id=lease.id,
                attempt=lease.attempt,
                permanent=bool(provider),
            )


def _reason(error: Exception) -> str:
    if isinstance(error, ProviderError):
        return f"{error.code}: {error.detail}" if error.detail else error.code
    return f"internal error ({type(error).__name__})"
