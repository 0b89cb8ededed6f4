"""Provider pauses in the SQLite file, so `postroom serve` and every `postroom worker` on the
same file see them: the provider_pauses table (migrations/0011_provider_pauses.sql)."""

import sqlite3

from postroom.storage.sqlite.connection import SqliteConnection


class SqliteProviderPauses:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    async def paused(self) -> dict[str, float]:
        return dict(await self._db.read(_paused))

    async def pause(self, provider: str, at: float) -> bool:
        def insert(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT INTO provider_pauses (provider, paused_at) VALUES (?, ?)"
                " ON CONFLICT (provider) DO NOTHING",
                (provider, at),
            )
            return cursor.rowcount == 1

        return await self._db.write(insert)

    async def resume(self, provider: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("DELETE FROM provider_pauses WHERE provider = ?", (provider,))
            return cursor.rowcount == 1

        return await self._db.write(delete)


def _paused(conn: sqlite3.Connection) -> list[tuple[str, float]]:
    return conn.execute("SELECT provider, paused_at FROM provider_pauses").fetchall()
