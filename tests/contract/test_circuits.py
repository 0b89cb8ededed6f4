"""The HealthStore port (ports/health.py): provider circuits shared by every worker, on the
engine that stores them (PostgreSQL)."""

from postroom.domain.circuit import Circuit, CircuitState
from postroom.ports.health import CircuitRecord
from postroom.ports.storage import Storage


async def test_circuits_load_the_newest_saved(postgres_storage: Storage) -> None:
    """Nothing saved loads empty; a save reads back; an older write never replaces it."""
    circuits = postgres_storage.circuits
    assert circuits is not None
    assert await circuits.load() == {}
    newer = CircuitRecord(Circuit(CircuitState.OPEN, 5, 130.0), 100.0)
    await circuits.save("mailgun", newer)
    await circuits.save("mailgun", CircuitRecord(Circuit(), 99.0))
    await circuits.save("smtp-1", CircuitRecord(Circuit(), 1.0))
    assert await circuits.load() == {"mailgun": newer, "smtp-1": CircuitRecord(Circuit(), 1.0)}
