"""Shared provider health over a real PostgreSQL: two workers, one database."""

import contextlib
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest

from postroom.domain.circuit import BreakerPolicy, Circuit, CircuitState, Failure
from postroom.ports.health import CircuitRecord
from postroom.services.shared_health import SharedHealth
from postroom.storage.postgres import open_storage
from tests.conftest import ManualClock
from tests.support.postgres import (
    database_url,
    drop_database,
    fresh_database,
)

POLICY = BreakerPolicy(threshold=3, cool_down=30.0)
NAMES = ["mailgun", "smtp-1"]


@pytest.fixture
def database() -> Iterator[str]:
    """An empty database, migrated on first use and dropped afterwards."""
    with fresh_database("postroom_health") as name:
        yield name


@contextlib.asynccontextmanager
async def worker(url: str, clock: ManualClock) -> AsyncIterator[SharedHealth]:
    """One worker process's health: an engine (and pool) of its own, over the shared database."""
    queue = open_storage(url, clock)
    assert queue.circuits is not None
    health = SharedHealth(NAMES, queue.circuits, clock, POLICY, monotonic=ManualClock(0.0).now)
    try:
        yield health
    finally:
        await health.close()
        await queue.close()


async def test_an_outage_seen_by_one_worker_opens_the_circuit_of_another(
    database: str, clock: ManualClock
) -> None:
    """A failure burst in one worker: the other sees the circuit OPEN after its next refresh."""
    url = database_url(database)
    async with worker(url, clock) as a, worker(url, clock) as b:
        await b.refresh()
        for _ in range(POLICY.threshold):
            a.failure(0, Failure.DOWN, clock.now(), None)
        await a.refresh()
        assert b.circuits()[0].state is CircuitState.CLOSED
        await b.refresh()
        assert b.circuits() == [Circuit(CircuitState.OPEN, 3, clock.now() + 30.0), Circuit()]


async def test_a_recovery_closes_the_circuit_of_another_worker(
    database: str, clock: ManualClock
) -> None:
    """The CLOSED written after a successful probe closes the other worker's open circuit."""
    url = database_url(database)
    async with worker(url, clock) as a, worker(url, clock) as b:
        a.failure(1, Failure.MISCONFIGURED, clock.now(), None)
        await a.refresh()
        await b.refresh()
        assert b.circuits()[1].state is CircuitState.OPEN
        clock.advance(POLICY.misconfigured_cool_down)
        a.attempt(1, clock.now())
        clock.advance(0.2)
        a.success(1)
        await a.refresh()
        await b.refresh()
        assert b.circuits() == [Circuit(), Circuit()]


async def test_an_older_write_never_replaces_a_newer_row(database: str, clock: ManualClock) -> None:
    """The store keeps the newest updated_at, whatever order the writes arrive in."""
    queue = open_storage(database_url(database), clock)
    store = queue.circuits
    assert store is not None
    try:
        newer = CircuitRecord(Circuit(CircuitState.OPEN, 5, 130.0), 100.0)
        await store.save("mailgun", newer)
        await store.save("mailgun", CircuitRecord(Circuit(), 99.0))
        assert await store.load() == {"mailgun": newer}
    finally:
        await queue.close()


async def test_rows_of_an_unknown_state_are_left_out(database: str, clock: ManualClock) -> None:
    """A state written by a newer release is skipped, not an error."""
    queue = open_storage(database_url(database), clock)
    store = queue.circuits
    assert store is not None
    try:
        await store.save("smtp-1", CircuitRecord(Circuit(), 1.0))
        async with await psycopg.AsyncConnection.connect(
            database_url(database), autocommit=True
        ) as conn:
            await conn.execute(
                "INSERT INTO postroom_provider_health VALUES ('mailgun', 'dimmed', 0, 0, 1)"
            )
        assert await store.load() == {"smtp-1": CircuitRecord(Circuit(), 1.0)}
    finally:
        await queue.close()


async def test_a_worker_carries_on_when_the_database_is_gone(
    database: str, clock: ManualClock
) -> None:
    """Database unreachable: the circuits move locally and nothing raises."""
    url = database_url(database, "connect_timeout=1&pool_timeout=1&pool_min=0")
    async with worker(url, clock) as a:
        drop_database(database)
        for _ in range(POLICY.threshold):
            a.failure(0, Failure.DOWN, clock.now(), None)
        await a.refresh()
        assert a.circuits()[0].state is CircuitState.OPEN
