"""Provider health shared by every worker process through a HealthStore (PostgreSQL).

A provider outage one worker sees is known to every busy worker within about a second: the
worker that opens a circuit writes it at once, and every worker reads the store at most every
`every` seconds (0.5) while it delivers. Delivery never waits for the store: transitions apply
here at once, and the reads and writes run in the background.
"""

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence

from postroom.domain.circuit import BreakerPolicy, Circuit
from postroom.logs import get_logger, log_event
from postroom.ports.clock import Clock
from postroom.ports.health import CircuitRecord, HealthStore
from postroom.ports.metrics import Metrics
from postroom.services.health import LocalHealth

log = get_logger("health")

REFRESH_EVERY = 0.5
# After a failed read or write, so a database that is down is not asked twice a second by
# every worker (its queue is failing anyway); circuits stay local meanwhile.
PAUSE_AFTER_FAILURE = 5.0


class SharedHealth(LocalHealth):
    """LocalHealth whose state changes are also written to a store and read back by others.

    Only a change of a circuit's state (closed, open, half-open) is written, stamped with the
    clock's time: a success on a closed circuit writes nothing, so there is no write per
    delivery, and consecutive failures below the threshold are counted by each worker alone.

    Merge rule: per provider, the record with the newest `updated_at` wins, here and in the
    store. A stored circuit newer than this worker's replaces it whole, so an OPEN written by
    another worker opens the circuit here too, its HALF_OPEN holds this worker back while that
    probe runs, and the CLOSED written after its successful probe closes it here. Workers'
    clocks must agree (NTP), as for every time the PostgreSQL backend stores.

    A store that fails never breaks delivery: the circuits carry on locally, a warning names
    the kind of failure (never any data), and unsaved changes are written once it is back.
    """

    def __init__(
        self,
        names: Sequence[str],
        store: HealthStore,
        clock: Clock,
        policy: BreakerPolicy | None = None,
        metrics: Metrics | None = None,
        *,
        every: float = REFRESH_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(names, policy, metrics)
        self._store = store
        self._clock = clock
        self._every = every
        self._monotonic = monotonic
        self._stamps = [0.0 for _ in self.names]  # updated_at of each circuit here
        self._unsaved: set[int] = set()
        self._next_load = -math.inf
        self._paused_until = -math.inf
        self._task: asyncio.Task[None] | None = None
        self._store_ok = True

    def circuits(self) -> list[Circuit]:
        self._start_sync()
        return super().circuits()

    async def refresh(self) -> None:
        """Write the changes not stored yet and adopt newer stored circuits, now."""
        await self._run(load=True)

    async def close(self) -> None:
        """Write the changes not stored yet; call before the store's connections close."""
        await self._run(load=False)

    def _set(self, index: int, circuit: Circuit) -> None:
        changed = circuit.state is not self._circuits[index].state
        super()._set(index, circuit)
        if changed:
            self._stamps[index] = self._clock.now()
            self._unsaved.add(index)
            self._start_sync()

    def _start_sync(self) -> None:
        """Sync in the background when a change is unsaved or a read is due, unless a sync is
        running or the store failed moments ago."""
        if self._task is not None and not self._task.done():
            return
        now = self._monotonic()
        load = now >= self._next_load
        if now < self._paused_until or not (load or self._unsaved):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # called outside an event loop: nothing can be shared from here
        self._task = loop.create_task(self._sync(load))

    async def _run(self, load: bool) -> None:
        """One sync after the one running, if any: never two at once."""
        if self._task is not None:
            await asyncio.wait({self._task})
        task = self._task = asyncio.get_running_loop().create_task(self._sync(load))
        await asyncio.wait({task})

    async def _sync(self, load: bool) -> None:
        try:
            await self._save_unsaved()
            if load:
                self._next_load = self._monotonic() + self._every
                self._merge(await self._store.load())
                await self._save_unsaved()  # changes made while the read was in flight
        except Exception as error:  # whatever the store does, delivery carries on
            self._paused_until = self._monotonic() + PAUSE_AFTER_FAILURE
            if self._store_ok:
                log_event(log, "health.store_failed", logging.WARNING, error=type(error).__name__)
            self._store_ok = False
            return
        if not self._store_ok:
            log_event(log, "health.store_recovered")
        self._store_ok = True

    async def _save_unsaved(self) -> None:
        while self._unsaved:
            index = self._unsaved.pop()
            record = CircuitRecord(self._circuits[index], self._stamps[index])
            try:
                await self._store.save(self.names[index], record)
            except BaseException:
                self._unsaved.add(index)
                raise

    def _merge(self, stored: Mapping[str, CircuitRecord]) -> None:
        """Adopt each stored circuit newer than this worker's (the merge rule above)."""
        for index, name in enumerate(self.names):
            record = stored.get(name)
            if record is not None and record.updated_at > self._stamps[index]:
                self._stamps[index] = record.updated_at
                self._unsaved.discard(index)  # older than the store's: it would be ignored
                super()._set(index, record.circuit)
