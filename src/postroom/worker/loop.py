"""The worker loop: bounded concurrency, leases fetched ahead, a lease heartbeat, graceful stop.

Leases are fetched ahead of need (up to half the concurrency again), so when a send finishes the
next one starts at once instead of waiting a storage round trip for its lease. When nothing is
ready the loop looks again after `idle_wait` (or at once when told an email arrived), whether or
not sends are in flight: a scheduled email or a lapsed lease is taken on time while a slow send
runs, as long as a slot is free.

Every lease the worker holds (in flight or fetched ahead) is kept by one heartbeat: every
`visibility / 8` seconds a single batched `Queue.extend_all` call extends them all. So the
visibility timeout can be short (a dead worker's emails come back within it) while a send may
take as long as its provider allows. Holding a lease costs a dict insert and a delete.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from postroom.domain.errors import StorageUnavailableError
from postroom.logs import RateLimitedLog, get_logger, log_event
from postroom.ports.notifications import Notifications
from postroom.ports.queue import Lease, Queue

log = get_logger("worker")

Deliver = Callable[[Lease], Awaitable[None]]
# How long one LISTEN wait lasts before it is renewed (PostgreSQL).
LISTEN_WAIT = 30.0
# Heartbeats per visibility timeout: the lease outlives a storage outage of 7/8 of it.
BEATS_PER_VISIBILITY = 8
# After a failed heartbeat, try again this soon: the leases are running out.
BEAT_RETRY = 0.25
# After a failed lease call, wait this long before the next one, so that when storage comes
# back the heartbeats and settles of the workers holding leases get there first.
LEASE_RETRY = 1.0


class Worker:
    def __init__(
        self,
        queue: Queue,
        deliver: Deliver,
        concurrency: int = 32,
        visibility: float = 8.0,
        idle_wait: float = 0.2,
        wake: Notifications | None = None,
        hold: Callable[[], bool] | None = None,
    ) -> None:
        self._queue = queue
        # While it answers True the worker leases nothing (every provider is paused): the
        # emails wait in the queue, their attempts uncounted, and go as soon as it says False.
        self._hold = hold
        # Told when any process stores an email (Storage.wake); None: polling alone.
        self._notifications = wake
        self._deliver = deliver
        self._concurrency = concurrency
        self._prefetch = max(1, concurrency // 2)
        self._visibility = visibility
        # Bounds how late a scheduled email is sent while the worker is idle.
        self._idle_wait = idle_wait
        self._in_flight: set[asyncio.Task[None]] = set()
        # Every lease held, by email id, for the heartbeat.
        self._held: dict[str, Lease] = {}
        self._beat_every = max(BEAT_RETRY, visibility / BEATS_PER_VISIBILITY)
        self._buffer: deque[Lease] = deque()
        self._leasing: asyncio.Task[list[Lease]] | None = None
        self._idle_until = 0.0
        self._changed = asyncio.Event()
        # Outages repeat on every poll and heartbeat: one warning per 10 s each, with a count.
        self._rarely = RateLimitedLog()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def wake(self) -> None:
        """An email was just stored in this process: look now instead of at the next poll."""
        self._idle_until = 0.0
        self._changed.set()

    async def run_once(self) -> int:
        """Lease what is ready (up to the concurrency), deliver it all, return how many."""
        leases = self._take(await self._queue.lease(self._concurrency, self._visibility))
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            await asyncio.gather(*(self._attempt(lease) for lease in leases))
        finally:
            heartbeat.cancel()
        return len(leases)

    async def run(self, stop: asyncio.Event, grace: float = 30.0) -> None:
        """Deliver until `stop` is set; then lease nothing more and finish what was taken."""
        log_event(log, "worker.started", concurrency=self._concurrency)
        watcher = asyncio.create_task(self._watch(stop))
        listener = asyncio.create_task(self._listen(stop))
        heartbeat = asyncio.create_task(self._heartbeat())
        while not stop.is_set():
            self._changed.clear()
            self._collect_leases()
            self._start_from_buffer()
            await self._wait_for_change(self._lease_if_low())
        watcher.cancel()
        listener.cancel()
        await self._drain(grace)  # the heartbeat keeps the draining sends' leases
        heartbeat.cancel()
        log_event(log, "worker.stopped")

    def _take(self, leases: list[Lease]) -> list[Lease]:
        """Hold these leases: the heartbeat keeps them until their attempt ends."""
        for lease in leases:
            self._held[lease.id] = lease
        return leases

    async def _heartbeat(self) -> None:
        """Extend every held lease in one call per beat, for as long as the worker runs."""
        wait = self._beat_every
        while True:
            await asyncio.sleep(wait)
            wait = await self._beat()

    async def _beat(self) -> float:
        """One heartbeat; the seconds until the next."""
        leases = list(self._held.values())
        if not leases:
            return self._beat_every
        try:
            held = await self._queue.extend_all(leases, self._visibility)
        except StorageUnavailableError as error:
            self._rarely(log, "worker.heartbeat_failed", logging.WARNING, error=str(error))
            return BEAT_RETRY
        except Exception as error:  # a bug must not stop the heartbeat: every lease needs it
            self._rarely(log, "worker.heartbeat_crashed", logging.ERROR, error=type(error).__name__)
            return BEAT_RETRY
        for lease, kept in zip(leases, held, strict=True):
            # Not kept: lapsed and taken by another worker, or settled meanwhile.
            if not kept and self._held.get(lease.id) is lease:
                del self._held[lease.id]
                log_event(log, "worker.lease_lost", id=lease.id)
        return self._beat_every

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
            self._rarely(log, "worker.storage_unavailable", logging.WARNING, error=str(error))
            self._idle_until = time.monotonic() + LEASE_RETRY
            return
        if not leases:
            self._idle_until = time.monotonic() + self._idle_wait
        self._buffer.extend(self._take(leases))

    def _start_from_buffer(self) -> None:
        while self._buffer and len(self._in_flight) < self._concurrency:
            task = asyncio.create_task(self._attempt(self._buffer.popleft()))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._changed.set()

    def _lease_if_low(self) -> float | None:
        """Start a lease call when there is room for more leases. The seconds until one may
        be started, or None when only a change can make room (a send or a lease call ending)."""
        want = self._concurrency + self._prefetch - len(self._in_flight) - len(self._buffer)
        if self._leasing is not None or len(self._buffer) > self._prefetch // 2 or want <= 0:
            return None
        wait = self._idle_until - time.monotonic()
        if wait > 0:
            return wait
        if self._hold is not None and self._hold():
            self._idle_until = time.monotonic() + self._idle_wait
            return self._idle_wait
        self._leasing = asyncio.create_task(self._queue.lease(want, self._visibility))
        self._leasing.add_done_callback(lambda _: self._changed.set())
        return None

    async def _wait_for_change(self, seconds: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), seconds)

    async def _attempt(self, lease: Lease) -> None:
        try:
            await self._deliver(lease)
        except StorageUnavailableError as error:
            # Storage stayed away longer than the delivery service retries a settle: the
            # outcome was not recorded; the lease lapses and the email comes back.
            log_event(log, "worker.settle_failed", logging.WARNING, id=lease.id, error=str(error))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker.attempt_crashed", extra={"fields": {"id": lease.id}})
        finally:
            if self._held.get(lease.id) is lease:
                del self._held[lease.id]

    async def _drain(self, grace: float) -> None:
        """Finish what this worker took: in-flight sends and the leases fetched ahead."""
        if self._leasing is not None:
            with contextlib.suppress(Exception):
                self._buffer.extend(self._take(await self._leasing))
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
