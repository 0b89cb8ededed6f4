"""Requeue: messages for emails of a queue kept apart from the store (SQS), whose message may
be missing (lost, or never sent because the store changed outside the queue)."""

from typing import Protocol


class Requeue(Protocol):
    async def requeue(self, after: str = "", limit: int = 500) -> tuple[int, str | None]:
        """Send a message for each waiting email in a page of the store (ids above `after`):
        (how many, the last id or None when done)."""
        ...

    async def enqueue(self, ids: list[str]) -> None:
        """Send a message, due now, for each of these emails (just redriven in the store).
        StorageUnavailableError when not all could be sent."""
        ...
