"""Lifecycle: whether storage answers, and releasing it."""

from typing import Protocol


class Lifecycle(Protocol):
    async def ping(self) -> None:
        """Return when storage answers; raise StorageUnavailableError when it does not, and
        StorageFullError when it answers but refuses new email for lack of room (SQLite's
        size cap), while it still delivers what it holds."""
        ...

    async def probe(self) -> None:
        """For start-up: connect once and raise StorageUnavailableError naming where and why
        (host:port and the server's cause) when storage cannot be reached."""
        ...

    async def close(self) -> None:
        """Finish pending writes and release connections; every port object of this engine
        stops working."""
        ...
