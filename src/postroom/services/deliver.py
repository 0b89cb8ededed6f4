"""Delivery of one leased email: lease → attempt (with failover) → settle.

The decisions are the pure router's (domain/router.py); this module only performs them:
calls the provider and records the outcome, retrying a settle that storage refused until it
is back (the worker's heartbeat keeps the lease meanwhile, worker/loop.py). Every provider call
becomes an event in the email's history; the events travel with the settle call, so recording
them costs no database round trip of its own.
"""

import asyncio
import logging
import mimetypes
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from inscriptis import get_text  # type: ignore[import-untyped]

from postroom.domain.attempts import scrub, summary
from postroom.domain.circuit import Failure
from postroom.domain.errors import (
    CipherError,
    MisconfiguredError,
    OutcomeUnknownError,
    PermanentError,
    ProviderError,
    StorageUnavailableError,
    ThrottledError,
    UnsupportedError,
)
from postroom.domain.events import EventType
from postroom.domain.ids import message_id_header
from postroom.domain.keys import DEFAULT_TENANT
from postroom.domain.message import Attachment, Email
from postroom.domain.retry import RetryPolicy
from postroom.domain.router import Action, Attempt, Decision, after_failure, next_step
from postroom.domain.states import State
from postroom.domain.suppression import without
from postroom.logs import RateLimitedLog, get_logger, log_event
from postroom.ports.clock import Clock
from postroom.ports.metrics import Metrics, NullMetrics
from postroom.ports.provider import Outgoing, Provider, Receipt
from postroom.ports.queue import Event, Lease, Queue
from postroom.services.content import Content, NoCipher
from postroom.services.events import RecordEvents
from postroom.services.health import LocalHealth
from postroom.services.pauses import PauseWatch
from postroom.services.suppressions import SuppressionList

log = get_logger("deliver")

# A settle storage refused is tried again after these many seconds, doubling up to the cap,
# for at most SETTLE_PATIENCE seconds; past that the lease lapses and the email comes back.
SETTLE_FIRST_DELAY = 0.05
SETTLE_MAX_DELAY = 1.0
SETTLE_PATIENCE = 300.0
# What validation stores for an attachment given without contentType.
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# A suppression check storage could not answer: the email comes back after this many seconds.
SUPPRESSION_RETRY = 5.0


def classify(error: BaseException) -> Failure:
    if isinstance(error, OutcomeUnknownError):  # before ProviderDownError, its parent
        return Failure.UNKNOWN
    if isinstance(error, UnsupportedError):
        return Failure.UNSUPPORTED
    if isinstance(error, PermanentError):
        return Failure.PERMANENT
    if isinstance(error, ThrottledError):
        return Failure.THROTTLED
    if isinstance(error, MisconfiguredError):
        return Failure.MISCONFIGURED
    return Failure.DOWN  # ProviderDownError, and any bug inside an adapter


def prepare(email: Email) -> Email:
    """The email as every provider receives it: an HTML-only email gains a text alternative
    generated from its HTML, an attachment left as application/octet-stream gains the type its
    file name implies. Done once per delivery, before the first provider call, so every
    provider of a failover chain (and every retry) sends the same parts."""
    if email.html and (not email.text or email.text.isspace()):
        email = replace(email, text=text_alternative(email.html))
    if any(a.content_type == DEFAULT_CONTENT_TYPE for a in email.attachments):
        email = replace(email, attachments=tuple(_typed(a) for a in email.attachments))
    return email


def text_alternative(html: str) -> str:
    """Readable plain text for an HTML body (inscriptis: layout-aware, scripts and styles
    dropped); never empty, since an empty text/plain part is what this replaces."""
    return get_text(html).strip() or " "


def _typed(attachment: Attachment) -> Attachment:
    if attachment.content_type != DEFAULT_CONTENT_TYPE:
        return attachment
    guessed, encoding = mimetypes.guess_type(attachment.filename, strict=False)
    if guessed is None or encoding is not None:  # "x.tar.gz" is not a gzip-encoded tar here
        return attachment
    return replace(attachment, content_type=guessed)


@dataclass(slots=True)
class _Run:
    """One lease's delivery: the router's view and the attempt events it has produced."""

    lease: Lease
    outgoing: Outgoing
    attempt: Attempt
    events: list[Event] = field(default_factory=list)
    # The provider the last call failed through, until it is known whether there is a next.
    failed_from: str = ""
    # Whose email it is, and the positions (in the stored email) of the recipients it goes to:
    # what the `sent` and `failed` events name.
    tenant: str = DEFAULT_TENANT
    indices: tuple[int, ...] = ()


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
        rand: Callable[[], float] = random.random,
        content: Content | None = None,
        settle_patience: float = SETTLE_PATIENCE,
        suppressions: SuppressionList | None = None,
        events: RecordEvents | None = None,
        pauses: PauseWatch | None = None,
    ) -> None:
        self._queue = queue
        self._providers = list(providers)
        self._clock = clock
        self._health = health or LocalHealth([p.name for p in self._providers])
        self._policy = policy or RetryPolicy()
        self._metrics = metrics or NullMetrics()
        self._rand = rand
        self._content = content or Content(NoCipher())
        self._settle_patience = settle_patience
        # Checked just before the first provider call; suppressed recipients are recorded.
        self._suppressions = suppressions
        self._events = events
        # Providers an operator paused: skipped by the router, never probed.
        self._pauses = pauses
        # A storage outage fails every settle alike: one warning per 10 s, with a count.
        self._rarely = RateLimitedLog()

    async def __call__(self, lease: Lease) -> None:
        """Send the leased email through the first provider that takes it, then settle."""
        try:
            email = prepare(self._content.open_email(lease.payload, lease.id))
        except CipherError as error:
            # Never guess: an email that does not open is dead-lettered, not sent as garbage.
            await self._give_back(lease, Decision(Action.FAIL, reason=f"cannot decrypt: {error}"))
            return
        try:
            kept, indices = await self._drop_suppressed(lease, email)
        except StorageUnavailableError:
            at = self._clock.now() + SUPPRESSION_RETRY
            await self._give_back(
                lease, Decision(Action.RETRY, at=at, reason="storage unavailable")
            )
            return
        if kept is None:
            await self._suppressed(lease)
            return
        email = kept
        domain = email.sender.email.rpartition("@")[2]
        outgoing = Outgoing(lease.id, email, message_id_header(lease.id, domain))
        run = _Run(lease, outgoing, Attempt(lease.attempt, self._clock.now() - lease.created_at))
        run.tenant, run.indices = email.tenant or DEFAULT_TENANT, indices
        while True:
            now = self._clock.now()
            paused = self._pauses.paused() if self._pauses is not None else frozenset()
            circuits = self._health.circuits()
            decision = next_step(run.attempt, circuits, now, self._policy, self._rand(), paused)
            if decision.action is not Action.SEND:
                await self._give_back(run.lease, decision, run.events, run)
                return
            if run.failed_from:
                # Counted only now that there is somewhere to fail over to.
                self._metrics.failover(run.failed_from)
                run.failed_from = ""
            outcome = await self._try(run, decision.provider)
            if isinstance(outcome, Decision):
                await self._give_back(run.lease, outcome, run.events, run)
            if outcome is not None:
                return

    async def _drop_suppressed(
        self, lease: Lease, email: Email
    ) -> tuple[Email | None, tuple[int, ...]]:
        """The email without its suppressed recipients, whose `suppressed` events are recorded
        (None when every recipient is suppressed), and the positions of those it keeps."""
        recipients = email.recipients()
        every = tuple(range(len(recipients)))
        if self._suppressions is None:
            return email, every
        tenant = email.tenant or DEFAULT_TENANT
        blocked = await self._suppressions.blocked(
            tenant, [a.email for a in recipients], email.tags
        )
        if not blocked:
            return email, every
        if self._events is not None:
            await self._events.own(
                lease.id, tenant, sorted(blocked), EventType.SUPPRESSED, "on the suppression list"
            )
        kept = tuple(i for i in every if i not in blocked)
        if not kept:
            return None, ()
        return without(email, blocked), kept

    async def _suppressed(self, lease: Lease) -> None:
        """Every recipient is suppressed: the email ends without reaching a provider."""
        event = Event(self._clock.now(), State.SUPPRESSED, "", "every recipient is suppressed")
        if await self._settle(lease, lambda: self._queue.ack(lease, event)):
            self._metrics.settled("suppressed")
            log_event(log, "email.suppressed", id=lease.id)

    async def _try(self, run: _Run, index: int) -> Decision | bool | None:
        """One provider call: None to go on (run.attempt updated), True when sent and
        settled, a Decision when the email must be given back."""
        provider = self._providers[index]
        self._health.attempt(index, self._clock.now())
        started = time.perf_counter()
        try:
            receipt = await provider.send(run.outgoing)
        except Exception as error:
            return self._failed(run, index, error, time.perf_counter() - started)
        # Read once, for the metric and the attempt's duration alike: timing the attempt
        # adds no clock read to the delivery path.
        seconds = time.perf_counter() - started
        self._metrics.provider_call(provider.name, "sent", seconds)
        self._health.success(index)
        await self._sent(run, receipt, seconds)
        return True

    def _failed(self, run: _Run, index: int, error: Exception, seconds: float) -> Decision | None:
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
            id=run.lease.id,
            provider=name,
            failure=failure,
            code=code,
        )
        run.events.append(self._attempt_event(run, name, failure, code, error, seconds))
        result = after_failure(
            run.attempt, index, failure, summary(name, failure, code), retry_after
        )
        if isinstance(result, Decision):
            return result
        run.attempt, run.failed_from = result, name
        return None

    def _attempt_event(
        self, run: _Run, name: str, failure: Failure, code: str, error: Exception, seconds: float
    ) -> Event:
        """The failed call as history: what the provider said, scrubbed and sealed, and how
        long it took."""
        email = run.outgoing.email
        private = (email.subject, *(a.name for a in (email.sender, *email.recipients())))
        reason = scrub(_reason(error), private)
        sealed = self._content.seal_text(reason, run.lease.id)
        ms = seconds * 1000
        return Event(self._clock.now(), State.SENDING, name, sealed, str(failure), code, ms)

    async def _sent(self, run: _Run, receipt: Receipt, seconds: float) -> None:
        lease = run.lease
        event = Event(
            self._clock.now(),
            State.SENT,
            receipt.provider,
            receipt.message_id,
            "sent",
            receipt.code,
            seconds * 1000,
        )

        async def settle() -> bool:
            # Told no later than the ack (in its write, or before it): it is true from the
            # provider's answer on, and a crash before the ack sends the email again, whose
            # `sent` is then stored once.
            if self._events is None or not run.indices:
                return await self._queue.ack(lease, event, run.events)
            return await self._events.ack_sent(
                self._queue, lease, event, run.events, run.tenant, run.indices
            )

        if await self._settle(lease, settle):
            self._metrics.settled("sent", receipt.provider)
            log_event(
                log, "email.sent", id=lease.id, provider=receipt.provider, attempt=lease.attempt
            )

    async def _tell(self, run: _Run, kind: EventType) -> bool:
        """Record the email's `sent` or `failed` for each recipient it went to (the
        application hears of it through the feed and its webhooks)."""
        if self._events is not None and run.indices:
            await self._events.own(run.lease.id, run.tenant, run.indices, kind, "")
        return True

    async def _give_back(
        self,
        lease: Lease,
        decision: Decision,
        attempts: Sequence[Event] = (),
        run: _Run | None = None,
    ) -> None:
        now = self._clock.now()
        reason = self._content.seal_text(decision.reason, lease.id)
        if decision.action is Action.RETRY:
            event = Event(now, State.RETRYING, "", reason)
            if await self._settle(
                lease, lambda: self._queue.retry(lease, decision.at, event, attempts)
            ):
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
        if await self._settle(lease, lambda: self._queue.dead_letter(lease, event, attempts)):
            if run is not None:
                # After the dead-letter only: a lease lost to another worker is not a failure.
                await self._settle(lease, lambda: self._tell(run, EventType.FAILED))
            self._metrics.settled("failed" if provider else "dead_lettered", provider)
            log_event(
                log,
                "email.failed",
                logging.WARNING,
                id=lease.id,
                attempt=lease.attempt,
                permanent=bool(provider),
            )

    async def _settle(self, lease: Lease, settle: Callable[[], Awaitable[bool]]) -> bool:
        """Settle, trying again with backoff while storage is unavailable (the lease is kept
        by the worker's heartbeat meanwhile); raise once SETTLE_PATIENCE has passed."""
        deadline = time.monotonic() + self._settle_patience
        delay = SETTLE_FIRST_DELAY
        while True:
            try:
                return await settle()
            except StorageUnavailableError as error:
                if time.monotonic() + delay > deadline:
                    raise
                # Once per ten seconds for the whole process, however many settles wait.
                self._rarely(log, "deliver.settle_retrying", id=lease.id, error=str(error))
            await asyncio.sleep(delay)
            delay = min(delay * 2, SETTLE_MAX_DELAY)


def _reason(error: Exception) -> str:
    if isinstance(error, ProviderError):
        return error.detail
    return f"internal error ({type(error).__name__})"
