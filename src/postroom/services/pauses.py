"""Providers an operator paused, as every worker sees them, and the pause and resume actions.

A worker reads the store's pauses (ports/pauses.py) at most every `every` seconds (0.5) while
it delivers, in the background: delivery never waits for the store, so a pause made in any
process (the dashboard, `postroom providers pause`) is honoured by every worker on the store
within about a second. A store that cannot be read keeps the pauses last read, logs one
warning and is asked again 5 s later.
"""

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence

from postroom.logs import get_logger, log_event
from postroom.ports.metrics import Metrics, NullMetrics
from postroom.ports.pauses import ProviderPauses

log = get_logger("pauses")

REFRESH_EVERY = 0.5
PAUSE_AFTER_FAILURE = 5.0
# The state the circuit gauge shows for a paused provider (docs/delivery.md, Metrics).
PAUSED = "paused"


class PauseError(Exception):
    """A pause or resume that cannot be done (an unknown provider); its message says why."""


class PauseWatch:
    """The paused providers of one worker's provider list, by index, kept current from the
    store. `circuit_state(index)` is what the circuit gauge goes back to on resume."""

    def __init__(
        self,
        names: Sequence[str],
        store: ProviderPauses,
        circuit_state: Callable[[int], str],
        metrics: Metrics | None = None,
        *,
        every: float = REFRESH_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.names = list(names)
        self._store = store
        self._circuit_state = circuit_state
        self._metrics = metrics or NullMetrics()
        self._every = every
        self._monotonic = monotonic
        self._paused: frozenset[int] = frozenset()
        self._next_load = -math.inf
        self._task: asyncio.Task[None] | None = None
        self._store_ok = True

    def paused(self) -> frozenset[int]:
        """The indices paused as last read; starts a read in the background when one is due."""
        self._start_load()
        return self._paused

    def every_paused(self) -> bool:
        """Every provider is paused: there is nothing to lease for (the worker holds)."""
        return len(self.paused()) == len(self.names) > 0

    async def refresh(self) -> None:
        """Read the store now (after the read running, if any)."""
        if self._task is not None:
            await asyncio.wait({self._task})
        await self._load()

    def _start_load(self) -> None:
        if self._task is not None and not self._task.done():
            return
        if self._monotonic() < self._next_load:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # outside an event loop: keep what was last read
        self._task = loop.create_task(self._load())

    async def _load(self) -> None:
        self._next_load = self._monotonic() + self._every
        try:
            stored = await self._store.paused()
        except Exception as error:  # whatever the store does, delivery carries on
            self._next_load = self._monotonic() + PAUSE_AFTER_FAILURE
            if self._store_ok:
                log_event(log, "pauses.store_failed", logging.WARNING, error=type(error).__name__)
            self._store_ok = False
            return
        if not self._store_ok:
            log_event(log, "pauses.store_recovered")
        self._store_ok = True
        self._adopt(frozenset(i for i, name in enumerate(self.names) if name in stored))

    def _adopt(self, paused: frozenset[int]) -> None:
        for index in paused ^ self._paused:
            name = self.names[index]
            if index not in paused:
                self._metrics.circuit(name, self._circuit_state(index))
            log_event(
                log, "provider.paused" if index in paused else "provider.resumed", provider=name
            )
        # At every read, not only on a change: a send in flight when the pause came may have
        # moved the circuit (and its gauge) since.
        for index in paused:
            self._metrics.circuit(self.names[index], PAUSED)
        self._paused = paused


async def pause(store: ProviderPauses, names: Sequence[str], name: str, now: float) -> bool:
    """Pause `name`, one of the configured providers; False when it was paused already."""
    if name not in names:
        raise PauseError(_unknown(name, names))
    return await store.pause(name, now)


async def resume(store: ProviderPauses, name: str) -> bool:
    """Resume `name` (configured or not: a pause left by an older configuration can be lifted);
    False when it was not paused."""
    return await store.resume(name)


def _unknown(name: str, names: Sequence[str]) -> str:
    known = ", ".join(names) or "none"
    return f"no provider named {name!r} is configured (POSTROOM_PROVIDERS: {known})"
