"""The Lifecycle port (ports/lifecycle.py) and the optional ports of each engine's bundle."""

import asyncio
from pathlib import Path

import pytest

from postroom.domain.errors import StorageUnavailableError
from postroom.ports.storage import Storage
from postroom.storage import open_storage
from tests.conftest import ManualClock
from tests.contract.test_queue import new
from tests.support.postgres import database_url


async def test_probe_and_ping_answer(storage: Storage) -> None:
    """A working engine answers its start-up probe and its ping (and its queue apart's)."""
    await storage.lifecycle.probe()
    await storage.lifecycle.ping()
    if storage.queue_lifecycle is not None:
        await storage.queue_lifecycle.probe()
    await storage.ping()


async def test_only_a_queue_apart_has_requeue(storage: Storage) -> None:
    """Requeue and a queue lifecycle come together: SQS has both, the others neither."""
    assert (storage.requeue is None) == (storage.queue_lifecycle is None)


async def test_stores_offer_claims(store: Storage) -> None:
    """Every engine that can be the store beside a queue apart from it offers Claims."""
    assert store.claims is not None


async def test_ping(storage: Storage) -> None:
    """A working engine answers its ping."""
    await storage.lifecycle.ping()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_close_keeps_what_was_answered(
    engine: str, request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> None:
    """What was answered before close is there when the engine is opened again, and the closed
    engine refuses further writes as unavailable."""
    url = f"sqlite:///{tmp_path / 'closed.db'}"
    if engine == "postgres":
        url = database_url(request.getfixturevalue("postgres_database"), "migrate=off")
    storage = open_storage(url, clock)
    await asyncio.gather(*(storage.queue.put(new(clock, n)) for n in range(20)))
    await storage.close()
    with pytest.raises(StorageUnavailableError):
        await storage.queue.put(new(clock, 99))
    again = open_storage(url, clock)
    try:
        assert (await again.queue.stats()).ready == 20
    finally:
        await again.close()
