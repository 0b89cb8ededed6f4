"""Claims: leasing emails by id, for a queue kept apart from the store (Amazon SQS).

The queue hands a worker ids; the store decides whether each may be sent now. So the store stays
the one place that knows an email's state, and a message delivered twice (SQS delivers at least
once) or early (a delay longer than the queue can hold) is never sent twice or early.
"""

from dataclasses import dataclass, field
from typing import Protocol

from postroom.ports.queue import Lease


@dataclass(frozen=True, slots=True)
class Claimed:
    leases: list[Lease] = field(default_factory=list)
    # Ids not claimable now, with the time to look again: when a scheduled or retried email
    # becomes due, or when another worker's lease on it lapses.
    later: dict[str, float] = field(default_factory=dict)
    # Ids that will never be claimable: unknown, or in a final state (sent, failed, cancelled).
    gone: list[str] = field(default_factory=list)


class Claims(Protocol):
    async def claim(self, ids: list[str], visibility: float) -> Claimed:
        """Lease those of `ids` that are due, as `lease` would; say when to look at the rest."""
        ...

    async def withdraw(self, email_id: str) -> None:
        """Forget an email whose client was told it was not accepted (its queue message could
        not be sent): the email, its events and its idempotency key."""
        ...

    async def waiting(self, after: str, limit: int) -> list[tuple[str, float]]:
        """Up to `limit` emails not yet in a final state, with ids above `after` in id order,
        and when each is due: for queueing them again."""
        ...
