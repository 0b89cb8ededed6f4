"""One behavioural suite for the queue/store port, run against every backend."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from postroom.ports.backend import Backend
from postroom.queues.memory import MemoryQueue
from postroom.queues.sqlite import SqliteQueue
from tests.conftest import ManualClock

BACKENDS = ["memory", "sqlite"]


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[Backend]:
    opened: Backend
    if request.param == "memory":
        opened = MemoryQueue(clock)
    else:
        opened = SqliteQueue(str(tmp_path / "contract.db"), clock)
    try:
        yield opened
    finally:
        await opened.close()
