from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch. Adapters and services read time only through this."""
        ...
