"""Leasing by id, for a queue kept apart from this store (SQS)."""

import sqlite3

from postroom.ports.claims import Claimed
from postroom.storage.sqlite.connection import SqliteConnection
from postroom.storage.sqlite.queue import lease_where


class SqliteClaims:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def claim(self, ids: list[str], visibility: float) -> Claimed:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return Claimed()
        return await self._db.write(lambda conn: self._claim(conn, unique, visibility))

    def _claim(self, conn: sqlite3.Connection, ids: list[str], visibility: float) -> Claimed:
        picked = f"SELECT id FROM emails WHERE id IN ({','.join('?' * len(ids))})"
        leases = lease_where(conn, self._clock, picked, list(ids), visibility)
        taken = {lease.id for lease in leases}
        rest = [i for i in ids if i not in taken]
        later: dict[str, float] = {}
        if rest:
            later = dict(
                conn.execute(
                    f"SELECT id, available_at FROM emails WHERE id IN ({','.join('?' * len(rest))})"
                    " AND available_at IS NOT NULL",
                    rest,
                ).fetchall()
            )
        return Claimed(leases, later, [i for i in rest if i not in later])

    async def withdraw(self, email_id: str) -> None:
        def withdraw(conn: sqlite3.Connection) -> None:
            for table in ("events", "attempts", "idempotency", "email_recipients"):
                conn.execute(f"DELETE FROM {table} WHERE email_id = ?", (email_id,))
            conn.execute("DELETE FROM emails WHERE id = ?", (email_id,))

        await self._db.write(withdraw)

    async def waiting(self, after: str, limit: int) -> list[tuple[str, float]]:
        def waiting(conn: sqlite3.Connection) -> list[tuple[str, float]]:
            query = (
                "SELECT id, available_at FROM emails WHERE available_at IS NOT NULL AND id > ?"
                " ORDER BY id LIMIT ?"
            )
            return [(row[0], row[1]) for row in conn.execute(query, (after, limit))]

        return await self._db.read(waiting)
