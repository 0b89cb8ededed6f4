"""The Notifications port (ports/notifications.py), on the engine that has it (PostgreSQL)."""

import asyncio
import time

from postroom.ports.storage import Storage
from tests.conftest import ManualClock
from tests.contract.test_queue import new


async def test_a_put_wakes_a_waiting_worker(postgres_storage: Storage, clock: ManualClock) -> None:
    """wait_for_new times out with nothing stored, and returns at once when an email is."""
    wake = postgres_storage.wake
    assert wake is not None
    await wake.wait_for_new(5)  # returns once listening: emails may have come before
    started = time.monotonic()
    await wake.wait_for_new(0.3)
    assert time.monotonic() - started >= 0.3
    waiting = asyncio.create_task(wake.wait_for_new(10))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    started = time.monotonic()
    await postgres_storage.queue.put(new(clock, 1))
    await asyncio.wait_for(waiting, 5)
    assert time.monotonic() - started < 2
