"""Schema migrations applied on request (`postroom migrate`), for engines that version them
apart from opening (PostgreSQL). SQLite upgrades its file itself when it opens it."""

from typing import Protocol


class Migrations(Protocol):
    async def migrate(self) -> list[str]:
        """Apply the pending migrations in one transaction; the versions applied, oldest
        first (none when up to date). StorageUnavailableError when the server cannot."""
        ...
