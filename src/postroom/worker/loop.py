"""The worker loop: bounded concurrency, leases fetched ahead, graceful stop.

Leases are fetched ahead of need (up to half the concurrency again), so when a send finishes the
next one starts at once instead of waiting a storage round trip for its lease. When nothing is
ready the loop waits `idle_wait`, or less when told an email arrived.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from postroom.domain.errors import StorageUnavailableError
from postroom.logs import get_logger, log_event, log_rarely
from postroom.ports.notifications import Notifications
from postroom.ports.queue import Lease, Queue

log = get_logger("worker")

Deliver = Callable[[Lease], Awaitable[None]]
# How long one LISTEN wait lasts before it is renewed (PostgreSQL).
LISTEN_WAIT = 30.0


class Worker:
    def __init__(
        self,
        queue: Queue,
        deliver: Deliver,
        concurrency: int = 32,
        visibility: float = 120.0,
        idle_wait: float = 0.2,
        wake: Notifications | None = None,
    ) -> None:
        self._queue = queue
        # Told when any process stores an email (Storage.wake); None: polling alone.
        self._notifications = wake
        self._deliver = deliver
        self._concurrency = concurrency
        self._prefetch = max(1, concurrency // 2)
        self._visibility = visibility
        # Bounds how late a scheduled email is sent while the worker is idle.
        self._idle_wait = idle_wait
        self._in_flight: set[asyncio.Task[None]] = set()
        self._buffer: deque[Lease] = deque()
        self._leasing: asyncio.Task[list[Lease]] | None = None
        self._idle_until = 0.0
        self._changed = asyncio.Event()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def wake(self) -> None:
        """An email was just stored in this process: look now instead of at the next poll."""
        self._idle_until = 0.0
        self._changed.set()

    async def run_once(self) -> int:
        """Lease what is ready (up to the concurrency), deliver it all, return how many."""
        leases = await self._queue.lease(self._concurrency, self._visibility)
        await asyncio.gather(*(self._attempt(lease) for lease in leases))
        return len(leases)

    async def run(self, stop: asyncio.Event, grace: float = 30.0) -> None:
        """Deliver until `stop` is set; then lease nothing more and finish what was taken."""
        log_event(log, "worker.started", concurrency=self._concurrency)
        watcher = asyncio.create_task(self._watch(stop))
        listener = asyncio.create_task(self._listen(stop))
        while not stop.is_set():
            self._changed.clear()
            self._collect_leases()
            self._start_from_buffer()
            self._lease_if_low()
            await self._wait_for_change()
        watcher.cancel()
        listener.cancel()
        await self._drain(grace)
        log_event(log, "worker.stopped")

    async def _listen(self, stop: asyncio.Event) -> None:
        """Wake when another process stores an email (PostgreSQL LISTEN/NOTIFY). Engines
        without notifications leave them None; polling every `idle_wait` serves them."""
        if self._notifications is None:
            return
        while not stop.is_set():
            await self._notifications.wait_for_new(LISTEN_WAIT)
            self.wake()

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._changed.set()

    def _collect_leases(self) -> None:
        if self._leasing is None or not self._leasing.done():
            return
        task, self._leasing = self._leasing, None
        try:
            leases = task.result()
        except StorageUnavailableError as error:
            # The text names the cause (a timeout, a refused call, no schema), never content.
            log_rarely(log, "worker.storage_unavailable", logging.WARNING, error=str(error))
            leases = []
        if not leases:
            self._idle_until = time.monotonic() + self._idle_wait
        self._buffer.extend(leases)

    def _start_from_buffer(self) -> None:
        while self._buffer and len(self._in_flight) < self._concurrency:
            task = asyncio.create_task(self._attempt(self._buffer.popleft()))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._changed.set()

    def _lease_if_low(self) -> None:
        if self._leasing is not None or len(self._buffer) > self._prefetch // 2:
            return
        if time.monotonic() < self._idle_until:
            return
        want = self._concurrency + self._prefetch - len(self._in_flight) - len(self._buffer)
        if want > 0:
            self._leasing = asyncio.create_task(self._queue.lease(want, self._visibility))
            self._leasing.add_done_callback(lambda _: self._changed.set())

    async def _wait_for_change(self) -> None:
        timeout = None
        if not self._in_flight and self._leasing is None:
            timeout = max(0.0, self._idle_until - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    async def _attempt(self, lease: Lease) -> None:
        try:
            await self._deliver(lease)
        except StorageUnavailableError as error:
            # The outcome was not recorded; the lease lapses and the email comes back.
            log_event(log, "worker.settle_failed", logging.WARNING, id=lease.id, error=str(error))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker.attempt_crashed", extra={"fields": {"id": lease.id}})

    async def _drain(self, grace: float) -> None:
        """Finish what this worker took: in-flight sends and the leases fetched ahead."""
        if self._leasing is not None:
            with contextlib.suppress(Exception):
                self._buffer.extend(await self._leasing)
            self._leasing = None
        pending = [asyncio.create_task(self._attempt(lease)) for lease in self._buffer]
        self._buffer.clear()
        everything = self._in_flight | set(pending)
        if not everything:
            return
        log_event(log, "worker.draining", in_flight=len(everything))
        _, late = await asyncio.wait(everything, timeout=grace)
        for task in late:
            task.cancel()  # its lease lapses and another worker sends it
