"""Webhooks out: lease due messages from the outbox, sign them, POST them, record what came
back (docs/webhooks.md, "Delivery").

A message is a job like an email: leased for longer than an attempt can take, so a dispatcher
that dies leaves it to the next, which sends it again under the same `webhook-id` (the
receiver's idempotency key: delivery is at least once). Attempts are settled in batches, one
write for all that ended since the last one.
"""

import asyncio
import collections
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Sequence

from postroom.domain.errors import StorageUnavailableError
from postroom.domain.signing import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_header
from postroom.domain.webhooks import SCHEDULE, judge, next_delay, parse_retry_after
from postroom.logs import RateLimitedLog, get_logger, log_event
from postroom.ports.clock import Clock
from postroom.ports.metrics import Metrics, NullMetrics
from postroom.ports.webhooks import (
    Attempt,
    Leased,
    MessageState,
    Outcome,
    Response,
    WebhookSender,
    WebhookStore,
)
from postroom.services.feed import Payloads
from postroom.services.webhook_endpoints import Endpoints

log = get_logger("webhooks")

# A lease outlasts the longest attempt (the sender's timeout) by this much, for its settle.
SETTLE_MARGIN = 10.0
# A message leased ahead starts only while its lease has the attempt and this much left; one
# that waited longer (a slow receiver keeps the slots) is left to lapse and is leased again.
START_MARGIN = 2.0
CONCURRENCY = 100
# Looked for due messages this often when nothing wakes the dispatcher (retries coming due,
# messages another process enqueued).
POLL = 0.5
# A storage outage: wait this long before leasing again.
OUTAGE_PAUSE = 1.0
# Woken sooner than this after a lease that found all there was, it waits out the rest: every
# delivery's `sent` wakes it, and a lease per delivery would cost every delivery a write.
WAKE_SPACING = 0.02
SETTLE_GATHER = 0.01
RESPONSE_KEPT = 1024  # characters of a response body kept with its attempt
PURGED = "the event was purged by retention before it could be sent"


class DispatchWebhooks:
    def __init__(
        self,
        store: WebhookStore,
        sender: WebhookSender,
        payloads: Payloads,
        endpoints: Endpoints,
        clock: Clock,
        metrics: Metrics | None = None,
        concurrency: int = CONCURRENCY,
        schedule: Sequence[float] = SCHEDULE,
        timeout: float = 15.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._sender = sender
        self._payloads = payloads
        self._endpoints = endpoints
        self._clock = clock
        self._metrics = metrics or NullMetrics()
        self._concurrency = concurrency
        self._schedule = tuple(schedule)
        self._hold = timeout + SETTLE_MARGIN
        self._least = timeout + START_MARGIN  # lease left for an attempt to start
        self._rand = rand
        self._settling: list[Outcome] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        # Leased ahead (with when each lease ends), started the moment a slot frees: a lease
        # is a write that waits its turn behind settles, and slots idle meanwhile would cap the
        # rate. At 0 ms the slots empty in ~15 ms and a lease takes 2 to 20: half the slots
        # ahead gave 0.57 of bare aiohttp's rate, one and a half 0.64 (docs/benchmarks.md).
        self._ready: collections.deque[tuple[float, Leased]] = collections.deque()
        self._ahead = max(1, concurrency * 3 // 2)
        # Leasing waits until this many more could be taken (or none is busy or ready).
        self._refill = max(1, concurrency // 2)
        self._slot_free = asyncio.Event()  # `_refill` more could be taken
        self._to_settle = asyncio.Event()  # an outcome waits in _settling
        self._draining = False  # no attempt will start any more
        self._rarely = RateLimitedLog()

    async def run(self, stop: asyncio.Event, wake: asyncio.Event) -> None:
        """Deliver until `stop`; `wake` is set when messages were enqueued in this process."""
        self._draining = False
        settler = asyncio.create_task(self._settle_loop())
        try:
            while not stop.is_set():
                full = await self._fill()
                if full is None:
                    await _first(stop, None, OUTAGE_PAUSE)
                elif full:
                    await _first(stop, self._slot_free, POLL)  # every slot is busy
                else:
                    leased_at = time.monotonic()
                    await _first(stop, wake, POLL)
                    rest = leased_at + WAKE_SPACING - time.monotonic()
                    if rest > 0:
                        await _first(stop, None, rest)
                wake.clear()
        finally:
            # In-flight attempts end within the sender's timeout; their outcomes are settled.
            # Those leased ahead are left: their leases lapse and they go out again later.
            self._ready.clear()
            await asyncio.gather(*self._in_flight, return_exceptions=True)
            self._draining = True
            self._to_settle.set()
            await settler

    def _room(self) -> int:
        """How many more may be leased: free slots, and the room ahead of them."""
        return self._concurrency + self._ahead - len(self._in_flight) - len(self._ready)

    async def _fill(self) -> bool | None:
        """Lease for the free slots and ahead; True when too few could be taken to lease for
        (wait for `_slot_free`), None on an outage."""
        room = self._room()
        self._slot_free.clear()
        if room < self._refill and (self._in_flight or self._ready):
            return True
        now = self._clock.now()
        try:
            leased = await self._store.lease(room, now, self._hold)
        except StorageUnavailableError as error:
            self._rarely(log, "webhooks.storage_unavailable", error=type(error).__name__)
            return None
        await self._prepare(leased)
        self._ready.extend((now + self._hold, each) for each in leased)
        self._start()
        return len(leased) == room

    def _start(self) -> None:
        now = self._clock.now()
        while self._ready and len(self._in_flight) < self._concurrency:
            until, leased = self._ready.popleft()
            if until - now < self._least:
                continue  # its lease could end mid-attempt: another would send it beside
            task = asyncio.create_task(self._deliver(leased))
            self._in_flight.add(task)
            task.add_done_callback(self._ended)

    def _ended(self, task: "asyncio.Task[None]") -> None:
        self._in_flight.discard(task)
        if not self._draining:
            self._start()
        if self._room() >= self._refill:
            self._slot_free.set()

    async def deliver_once(self) -> int:
        """Lease what is due and deliver it, waiting for the outcomes to be settled (the CLI
        and tests): how many were attempted."""
        leased = await self._store.lease(self._concurrency, self._clock.now(), self._hold)
        await self._prepare(leased)
        await asyncio.gather(*(self._deliver(item) for item in leased))
        await self._flush()
        return len(leased)

    async def _prepare(self, leased: list[Leased]) -> None:
        """Read the lease's addresses in one read; on an outage each payload reads its own."""
        items = [each.message.item for each in leased if each.message.item is not None]
        with contextlib.suppress(StorageUnavailableError):
            await self._payloads.prepare(items)

    async def _deliver(self, leased: Leased) -> None:
        try:
            outcome = await self._attempt(leased)
        except Exception as error:  # a bug must not lose the slot; the lease lapses instead
            log_event(log, "webhook.bug", logging.ERROR, error=type(error).__name__)
            return
        self._settling.append(outcome)
        self._to_settle.set()

    async def _attempt(self, leased: Leased) -> Outcome:
        message, endpoint = leased.message, leased.endpoint
        now = self._clock.now()
        if message.payload:
            body = message.payload.encode()
        elif message.item is not None:
            body = await self._payloads.body(message.item)
        else:
            attempt = Attempt(message.id, message.webhook_id, endpoint.id, now, 0, 0.0, "", PURGED)
            return Outcome(attempt, MessageState.FAILED)
        timestamp = int(now)
        secrets = self._endpoints.signing_secrets(endpoint, now)
        headers = {
            ID_HEADER: message.webhook_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature_header(secrets, message.webhook_id, timestamp, body),
            "content-type": "application/json",
            "user-agent": "Postroom-Webhooks",
        }
        response = await self._sender.post(endpoint.url, headers, body)
        return self._outcome(leased, response, now)

    def _outcome(self, leased: Leased, response: Response, now: float) -> Outcome:
        message, endpoint = leased.message, leased.endpoint
        attempt = Attempt(
            message.id,
            message.webhook_id,
            endpoint.id,
            now,
            response.status,
            response.latency,
            response.body[:RESPONSE_KEPT],
            response.error,
        )
        verdict = judge(response.status, now, endpoint.failing_since)
        self._metrics.webhook_attempt(_class(response), response.latency)
        if verdict.delivered:
            return Outcome(attempt, MessageState.DELIVERED, succeeded=True)
        retry_after = parse_retry_after(response.retry_after, now)
        delay = next_delay(message.attempts + 1, self._rand(), self._schedule, retry_after)
        state = MessageState.FAILED if delay is None else MessageState.PENDING
        next_at = None if delay is None else now + delay
        fields = {"endpoint": endpoint.id, "id": message.webhook_id, "status": response.status}
        log_event(log, "webhook.failed", logging.WARNING, attempt=message.attempts + 1, **fields)
        if not verdict.disable_reason:
            return Outcome(attempt, state, next_at)
        log_event(log, "webhook.endpoint_disabled", logging.WARNING, endpoint=endpoint.id)
        data = json.dumps({"endpoint_id": endpoint.id, "reason": verdict.disable_reason})
        return Outcome(attempt, state, next_at, False, verdict.disable_reason, data)

    async def _settle_loop(self) -> None:
        """Settle whatever ended while the last settle was being written: one write each.
        A few outcomes wait SETTLE_GATHER for more: against a slow receiver they end one by
        one, and a write each would cost more than the attempt (the lease outlasts the wait)."""
        while self._settling or not self._draining:
            if not self._settling:
                await self._to_settle.wait()
                self._to_settle.clear()
                continue
            if len(self._settling) < self._refill and not self._draining:
                await asyncio.sleep(SETTLE_GATHER)
            await self._flush()

    async def _flush(self) -> None:
        outcomes, self._settling = self._settling, []
        if not outcomes:
            return
        try:
            await self._store.settle(outcomes)
        except StorageUnavailableError as error:
            # Not settled: the leases lapse and the messages are sent again, same webhook-id.
            self._rarely(log, "webhooks.settle_failed", error=type(error).__name__)
            await asyncio.sleep(OUTAGE_PAUSE)


def _class(response: Response) -> str:
    if 200 <= response.status < 300:
        return "delivered"
    if response.status:
        return "http_error"
    return "refused" if response.error.startswith("refused") else "no_response"


async def _first(stop: asyncio.Event, other: asyncio.Event | None, seconds: float) -> None:
    """Return when `stop` or `other` is set, or after `seconds`."""
    waiters = [asyncio.create_task(stop.wait())]
    if other is not None:
        waiters.append(asyncio.create_task(other.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*waiters, return_exceptions=True)
