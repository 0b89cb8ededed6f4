"""Provider health in this process: one circuit per provider, moved by send outcomes."""

from collections.abc import Sequence

from postroom.domain.circuit import BreakerPolicy, Circuit, Failure
from postroom.ports.metrics import Metrics, NullMetrics

_HEALTHY = Circuit()


class LocalHealth:
    """Circuits kept in memory: each worker process learns on its own. With PostgreSQL,
    SharedHealth (services/shared_health.py) shares them so every worker sees an outage."""

    def __init__(
        self,
        names: Sequence[str],
        policy: BreakerPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.names = list(names)
        self.policy = policy or BreakerPolicy()
        self._circuits = [Circuit() for _ in self.names]
        self._metrics = metrics or NullMetrics()
        for name in self.names:
            self._metrics.circuit(name, Circuit().state)

    async def close(self) -> None:
        """Nothing to release: the circuits live in this process only."""

    def circuits(self) -> list[Circuit]:
        return list(self._circuits)

    def attempt(self, index: int, now: float) -> None:
        self._set(index, self._circuits[index].on_attempt(now, self.policy))

    def success(self, index: int) -> None:
        if self._circuits[index] != _HEALTHY:  # the common case changes nothing
            self._set(index, self._circuits[index].on_success())

    def failure(self, index: int, failure: Failure, now: float, retry_after: float | None) -> None:
        circuit = self._circuits[index].on_failure(failure, now, self.policy, retry_after)
        self._set(index, circuit)

    def _set(self, index: int, circuit: Circuit) -> None:
        if circuit.state is not self._circuits[index].state:
            self._metrics.circuit(self.names[index], circuit.state)
        self._circuits[index] = circuit
