"""Dead letters: emails given up on, kept for an operator to inspect and send again."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    failed_at: float
    attempts: int
    # The provider of the last attempt, or "" when no provider was ever called.
    provider: str
    # The outcome class of that attempt (permanent, down, throttled, ...), or "".
    error: str = ""


class DeadLetters(Protocol):
    async def dead(self, limit: int, after: str = "") -> list[DeadLetter]:
        """Up to `limit` dead letters with ids greater than `after`, in id order."""
        ...

    async def redrive(self, ids: list[str]) -> list[str]:
        """Queue these dead letters again as new (attempts reset); the ids that were dead. With
        a queue apart from the store, services/redrive.py also sends them a message."""
        ...
