"""The worker loop: lease in batches up to the free concurrency, deliver concurrently, poll
when idle (or wake at once when told an email arrived), stop gracefully."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from postroom.domain.errors import StorageUnavailableError
from postroom.logs import get_logger, log_event
from postroom.ports.queue import Lease, Queue

log = get_logger("worker")

Deliver = Callable[[Lease], Awaitable[None]]


class Worker:
    def __init__(
        self,
        queue: Queue,
        deliver: Deliver,
        concurrency: int = 32,
        visibility: float = 120.0,
        idle_wait: float = 0.2,
    ) -> None:
        self._queue = queue
        self._deliver = deliver
        self._concurrency = concurrency
        self._visibility = visibility
        # Bounds how late a scheduled email is sent while the worker is idle.
        self._idle_wait = idle_wait
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def wake(self) -> None:
        """An email was just stored in this process: look now instead of at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """Lease what is ready (up to the concurrency), deliver it all, return how many."""
        leases = await self._queue.lease(self._concurrency, self._visibility)
        await asyncio.gather(*(self._attempt(lease) for lease in leases))
        return len(leases)

    async def run(self, stop: asyncio.Event, grace: float = 30.0) -> None:
        """Deliver until `stop` is set; then lease nothing more and finish in-flight sends."""
        log_event(log, "worker.started", concurrency=self._concurrency)
        while not stop.is_set():
            self._wake.clear()
            leased = await self._lease_free_slots()
            if leased == 0:
                await self._idle(stop)
        await self._drain(grace)
        log_event(log, "worker.stopped")

    async def _lease_free_slots(self) -> int:
        free = self._concurrency - len(self._in_flight)
        if free <= 0:
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
            return 1
        try:
            leases = await self._queue.lease(free, self._visibility)
        except StorageUnavailableError:
            log_event(log, "worker.storage_unavailable", logging.WARNING)
            return 0
        for lease in leases:
            task = asyncio.create_task(self._attempt(lease))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(leases)

    async def _idle(self, stop: asyncio.Event) -> None:
        stopping = asyncio.ensure_future(stop.wait())
        woken = asyncio.ensure_future(self._wake.wait())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.wait({stopping, woken}, return_when=asyncio.FIRST_COMPLETED),
                self._idle_wait,
            )
        stopping.cancel()
        woken.cancel()

    async def _attempt(self, lease: Lease) -> None:
        try:
            await self._deliver(lease)
        except StorageUnavailableError:
            # The outcome was not recorded; the lease lapses and the email comes back.
            log_event(log, "worker.settle_failed", logging.WARNING, id=lease.id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker.attempt_crashed", extra={"fields": {"id": lease.id}})

    async def _drain(self, grace: float) -> None:
        if not self._in_flight:
            return
        log_event(log, "worker.draining", in_flight=len(self._in_flight))
        _, pending = await asyncio.wait(self._in_flight, timeout=grace)
        for task in pending:
            task.cancel()  # its lease lapses and another worker sends it
