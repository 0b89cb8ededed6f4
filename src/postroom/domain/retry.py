"""When to try again: exponential backoff with jitter, bounded by attempts and by age.

Defaults follow real MTAs, which keep a message for days: here the first retries come within
seconds and the gap grows to half an hour, so an outage of every provider for hours
dead-letters nothing.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay: float = 5.0
    max_delay: float = 1800.0
    max_attempts: int = 25
    max_age: float = 48 * 3600.0

    def delay(self, attempt: int, rand: float) -> float:
        """Seconds before attempt `attempt + 1`; `rand` in [0, 1) spreads retries apart."""
        ceiling: float = min(self.max_delay, self.base_delay * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + ceiling / 2 * rand

    def gives_up(self, attempt: int, age: float) -> bool:
        """True when the email has had its last attempt."""
        return attempt >= self.max_attempts or age >= self.max_age
