"""SharedHealth's merge rule and write policy, over an in-memory store and hand-moved clocks."""

import logging

import pytest

from postroom.domain.circuit import BreakerPolicy, Circuit, CircuitState, Failure
from postroom.domain.errors import StorageUnavailableError
from postroom.ports.health import CircuitRecord
from postroom.services.shared_health import PAUSE_AFTER_FAILURE, SharedHealth
from tests.conftest import ManualClock

POLICY = BreakerPolicy(threshold=3, cool_down=30.0)
NAMES = ["mailgun", "sendgrid"]
CLOSED, OPEN, HALF = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN


class MemoryHealthStore:
    """The HealthStore port in a dict, with the newest-wins save; `failing` breaks it."""

    def __init__(self) -> None:
        self.records: dict[str, CircuitRecord] = {}
        self.loads = 0
        self.saves: list[tuple[str, CircuitState]] = []
        self.failing = False

    async def load(self) -> dict[str, CircuitRecord]:
        self.loads += 1
        self._check()
        return dict(self.records)

    async def save(self, provider: str, record: CircuitRecord) -> None:
        self._check()
        self.saves.append((provider, record.circuit.state))
        current = self.records.get(provider)
        if current is None or current.updated_at < record.updated_at:
            self.records[provider] = record

    def _check(self) -> None:
        if self.failing:
            raise StorageUnavailableError("postgresql unavailable (OperationalError)")


class Worker:
    """One worker process's health: its own wall clock and monotonic clock, a shared store."""

    def __init__(self, store: MemoryHealthStore, clock: ManualClock) -> None:
        self.clock = clock
        self.monotonic = ManualClock(0.0)
        self.health = SharedHealth(
            NAMES, store, clock, POLICY, every=0.5, monotonic=self.monotonic.now
        )

    def burst(self, index: int = 0) -> None:
        for _ in range(POLICY.threshold):
            self.health.failure(index, Failure.DOWN, self.clock.now(), None)

    async def refresh(self) -> None:
        await self.health.refresh()

    def state(self, index: int = 0) -> CircuitState:
        return self.health.circuits()[index].state


@pytest.fixture
def store() -> MemoryHealthStore:
    return MemoryHealthStore()


@pytest.fixture
def workers(store: MemoryHealthStore, clock: ManualClock) -> tuple[Worker, Worker]:
    # One wall clock: the machines' clocks agree (NTP), as the merge rule assumes.
    return Worker(store, clock), Worker(store, clock)


async def test_open_seen_by_one_worker_opens_the_circuit_of_another(
    workers: tuple[Worker, Worker],
) -> None:
    """A failure burst in one worker opens the circuit in the other after its next refresh."""
    a, b = workers
    a.burst()
    await a.refresh()
    assert b.state() is CLOSED
    await b.refresh()
    assert b.health.circuits()[0] == a.health.circuits()[0]
    assert b.state() is OPEN
    assert b.state(1) is CLOSED


async def test_recovery_written_after_a_probe_closes_the_circuit_everywhere(
    workers: tuple[Worker, Worker], clock: ManualClock
) -> None:
    """A successful probe in one worker writes CLOSED; the other closes its open circuit."""
    a, b = workers
    a.burst()
    await a.refresh()
    await b.refresh()
    clock.advance(POLICY.cool_down)
    a.health.attempt(0, clock.now())
    clock.advance(1.0)
    a.health.success(0)
    await a.refresh()
    await b.refresh()
    assert b.health.circuits()[0] == Circuit()


async def test_probe_of_another_worker_holds_this_one_back(
    workers: tuple[Worker, Worker], clock: ManualClock
) -> None:
    """A HALF_OPEN written by the probing worker keeps the others from probing too."""
    a, b = workers
    a.burst()
    await a.refresh()
    await b.refresh()
    clock.advance(POLICY.cool_down)
    a.health.attempt(0, clock.now())
    await a.refresh()
    await b.refresh()
    assert b.state() is HALF
    assert not b.health.circuits()[0].available(clock.now())


async def test_an_older_stored_circuit_does_not_undo_a_newer_change_here(
    store: MemoryHealthStore, workers: tuple[Worker, Worker], clock: ManualClock
) -> None:
    """The newest updated_at wins: a stale CLOSED in the store leaves a newer OPEN open."""
    a, _ = workers
    store.records["mailgun"] = CircuitRecord(Circuit(), clock.now())
    clock.advance(1.0)
    a.burst()
    await a.refresh()
    assert a.state() is OPEN
    assert store.records["mailgun"].circuit.state is OPEN


async def test_a_stored_circuit_is_adopted_at_start(
    store: MemoryHealthStore, clock: ManualClock
) -> None:
    """A worker starting during an outage learns of it from its first read."""
    open_circuit = Circuit(OPEN, 5, clock.now() + 30.0)
    store.records["sendgrid"] = CircuitRecord(open_circuit, clock.now() - 1.0)
    await Worker(store, clock).health.refresh()
    late = Worker(store, clock)
    await late.health.refresh()
    assert late.health.circuits() == [Circuit(), open_circuit]


async def test_only_state_changes_are_written(
    store: MemoryHealthStore, workers: tuple[Worker, Worker], clock: ManualClock
) -> None:
    """Successes and failures below the threshold write nothing; opening writes once."""
    a, _ = workers
    for _ in range(100):
        a.health.attempt(0, clock.now())
        a.health.success(0)
    for _ in range(POLICY.threshold - 1):
        a.health.failure(0, Failure.DOWN, clock.now(), None)
    await a.refresh()
    assert store.saves == []
    a.health.failure(0, Failure.DOWN, clock.now(), None)
    a.health.failure(0, Failure.DOWN, clock.now(), None)  # a send in flight when it opened
    await a.refresh()
    assert store.saves == [("mailgun", OPEN)]


async def test_reads_at_most_every_half_second(
    store: MemoryHealthStore, workers: tuple[Worker, Worker]
) -> None:
    """Looking at the circuits reads the store once, then not again for 0.5 s."""
    a, _ = workers
    for _ in range(10):
        a.health.circuits()
        await a.health.close()  # lets the background read finish
    assert store.loads == 1
    a.monotonic.advance(0.5)
    a.health.circuits()
    await a.health.close()
    assert store.loads == 2


async def test_a_change_is_written_in_the_background_at_once(
    store: MemoryHealthStore, workers: tuple[Worker, Worker]
) -> None:
    """A state change is written without waiting for the next read to fall due."""
    a, _ = workers
    a.health.circuits()
    await a.health.close()
    a.burst()
    await a.health.close()
    assert store.saves == [("mailgun", OPEN)]
    assert store.loads == 1


async def test_a_failing_store_leaves_delivery_to_local_circuits(
    store: MemoryHealthStore,
    workers: tuple[Worker, Worker],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Store down: circuits work locally, one warning names only the kind of failure, and the
    change is written once the store is back."""
    a, b = workers
    store.failing = True
    with caplog.at_level(logging.INFO, logger="postroom.health"):
        a.burst()
        await a.refresh()
        await a.refresh()
        assert a.state() is OPEN
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert [(r.msg, r.__dict__["fields"]) for r in warnings] == [
            ("health.store_failed", {"error": "StorageUnavailableError"})
        ]
        store.failing = False
        a.monotonic.advance(PAUSE_AFTER_FAILURE)
        a.health.circuits()
        await a.health.close()
    assert store.records["mailgun"].circuit.state is OPEN
    assert caplog.records[-1].msg == "health.store_recovered"
    await b.refresh()
    assert b.state() is OPEN


async def test_no_read_while_the_store_is_paused_after_a_failure(
    store: MemoryHealthStore, workers: tuple[Worker, Worker]
) -> None:
    """After a failure the store is left alone for a while, however often circuits are read."""
    a, _ = workers
    store.failing = True
    a.health.circuits()
    await a.health.close()
    a.monotonic.advance(PAUSE_AFTER_FAILURE - 0.1)
    for _ in range(5):
        a.health.circuits()
        await a.health.close()
    assert store.loads == 1


def test_outside_an_event_loop_transitions_apply_locally(store: MemoryHealthStore) -> None:
    """Without a running loop nothing is scheduled, and the circuits still move."""
    health = SharedHealth(NAMES, store, ManualClock(), POLICY)
    for _ in range(POLICY.threshold):
        health.failure(1, Failure.DOWN, 0.0, None)
    assert health.circuits()[1].state is OPEN
    assert store.saves == []
    assert store.loads == 0
