"""PauseWatch: the pauses a worker honours, read from the store in the background."""

import asyncio
import logging

import pytest

from postroom.domain.errors import StorageUnavailableError
from postroom.services.pauses import PAUSE_AFTER_FAILURE, PauseError, PauseWatch, pause, resume
from postroom.storage.memory.pauses import MemoryProviderPauses
from tests.conftest import ManualClock

NAMES = ["mailgun", "sendgrid"]


class Gauge:
    """The circuit gauge's last state per provider."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def circuit(self, provider: str, state: str) -> None:
        self.states[provider] = state


class FailingPauses(MemoryProviderPauses):
    failing = False

    async def paused(self) -> dict[str, float]:
        if self.failing:
            raise StorageUnavailableError("postgresql unavailable (OperationalError)")
        return await super().paused()


def watch(store: MemoryProviderPauses, gauge: Gauge, monotonic: ManualClock) -> PauseWatch:
    return PauseWatch(
        NAMES,
        store,
        lambda i: "closed",
        gauge,
        every=0.5,
        monotonic=monotonic.now,  # type: ignore[arg-type]
    )


async def test_a_pause_in_the_store_is_seen_at_the_next_read() -> None:
    """Reads start from `paused()` at most every 0.5 s; the gauge shows "paused", then the
    circuit's state again on resume; every provider paused means the worker holds."""
    store, gauge, monotonic = MemoryProviderPauses(), Gauge(), ManualClock(0.0)
    pauses = watch(store, gauge, monotonic)
    await pauses.refresh()
    await store.pause("mailgun", 1.0)
    assert pauses.paused() == frozenset()  # read 0 s ago: not due yet
    monotonic.advance(0.5)
    pauses.paused()
    await asyncio.sleep(0)
    assert pauses.paused() == frozenset({0})
    assert gauge.states == {"mailgun": "paused"}
    assert not pauses.every_paused()
    await store.pause("sendgrid", 2.0)
    await pauses.refresh()
    assert pauses.every_paused()
    await store.resume("mailgun")
    await pauses.refresh()
    assert pauses.paused() == frozenset({1})
    assert gauge.states == {"mailgun": "closed", "sendgrid": "paused"}


async def test_a_failing_store_keeps_the_last_pauses(caplog: pytest.LogCaptureFixture) -> None:
    """Delivery goes on with what was last read, one warning, a new read 5 s later."""
    store, monotonic = FailingPauses(), ManualClock(0.0)
    pauses = watch(store, Gauge(), monotonic)
    await store.pause("sendgrid", 1.0)
    await pauses.refresh()
    store.failing = True
    with caplog.at_level(logging.WARNING):
        await pauses.refresh()
        await pauses.refresh()
    assert pauses.paused() == frozenset({1})
    assert [r.getMessage() for r in caplog.records].count("pauses.store_failed") == 1
    store.failing = False
    await store.resume("sendgrid")
    monotonic.advance(PAUSE_AFTER_FAILURE - 0.1)
    pauses.paused()
    await asyncio.sleep(0)
    assert pauses.paused() == frozenset({1})
    monotonic.advance(0.1)
    pauses.paused()
    await asyncio.sleep(0)
    assert pauses.paused() == frozenset()


async def test_only_a_configured_provider_can_be_paused_and_any_resumed() -> None:
    """An unknown name is refused with the configured names; resume lifts any pause."""
    store = MemoryProviderPauses()
    with pytest.raises(PauseError, match="mailgun, sendgrid"):
        await pause(store, NAMES, "mailgn", 1.0)
    assert await pause(store, NAMES, "mailgun", 1.0) is True
    await store.pause("retired", 1.0)
    assert await resume(store, "retired") is True
    assert await store.paused() == {"mailgun": 1.0}
