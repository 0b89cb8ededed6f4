"""Provider circuits in PostgreSQL, so every worker process sees an outage one of them saw.

Rides on the engine's pool (and its first-use migration): two tiny statements, a read
twice a second per worker and a write per circuit state change, need no connections of their
own. The table is postroom_provider_health (migrations/0003_provider_health.sql).
"""

from typing import Any

from postroom.domain.circuit import Circuit, CircuitState
from postroom.ports.health import CircuitRecord
from postroom.storage.postgres.connection import PostgresConnection
from postroom.storage.postgres.options import storage_errors
from postroom.storage.postgres.queries import Row

_LOAD = b"SELECT provider, state, failures, until, updated_at FROM postroom_provider_health"

# The newest change wins: an older write that arrives late leaves the row as it is.
_SAVE = b"""
INSERT INTO postroom_provider_health AS h (provider, state, failures, until, updated_at)
VALUES (%(provider)s, %(state)s, %(failures)s, %(until)s, %(updated_at)s)
ON CONFLICT (provider) DO UPDATE
    SET state = excluded.state, failures = excluded.failures, until = excluded.until,
        updated_at = excluded.updated_at
    WHERE h.updated_at < excluded.updated_at
"""


class PostgresHealthStore:
    """The HealthStore port over the engine's database, through its pool.

    Failures raise StorageUnavailableError like the queue's; closing the engine closes this."""

    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection

    async def load(self) -> dict[str, CircuitRecord]:
        return {
            provider: record
            for provider, *values in await self._execute(_LOAD, {})
            if (record := _record(*values)) is not None
        }

    async def save(self, provider: str, record: CircuitRecord) -> None:
        circuit = record.circuit
        params = {
            "provider": provider,
            "state": circuit.state.value,
            "failures": circuit.failures,
            "until": circuit.until,
            "updated_at": record.updated_at,
        }
        await self._execute(_SAVE, params)

    async def _execute(self, query: bytes, params: dict[str, Any]) -> list[Row]:
        # The engine's pool, opened and migrated on first use exactly as for the queue's queries.
        with storage_errors():
            async with (await self._db.pool()).connection() as conn:
                cursor = await conn.execute(query, params)
                return await cursor.fetchall() if cursor.description else []


def _record(state: str, failures: int, until: float, updated_at: float) -> CircuitRecord | None:
    """A row as a record; None for a state this version does not know (written by a newer
    release during a rolling upgrade), which is then left to this worker's own circuit."""
    try:
        known = CircuitState(state)
    except ValueError:
        return None
    return CircuitRecord(Circuit(known, failures, until), updated_at)
