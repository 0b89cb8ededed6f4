"""The health store port: provider circuits shared by every worker process."""

from dataclasses import dataclass
from typing import Protocol

from postroom.domain.circuit import Circuit


@dataclass(frozen=True, slots=True)
class CircuitRecord:
    circuit: Circuit
    # When the circuit last changed state, on the writer's clock (seconds since the epoch).
    updated_at: float


class HealthStore(Protocol):
    async def load(self) -> dict[str, CircuitRecord]:
        """The stored circuit of every provider, by name; providers never saved are absent."""
        ...

    async def save(self, provider: str, record: CircuitRecord) -> None:
        """Store the provider's circuit unless the stored one is at least as new (its
        `updated_at` is not older), so writes that arrive out of order keep the newest."""
        ...
