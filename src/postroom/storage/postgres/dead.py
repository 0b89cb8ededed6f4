"""Where dead letters are kept in PostgreSQL: postroom_emails rows with dead set."""

from postroom.ports.dead import DeadLetter
from postroom.storage.postgres.connection import PostgresConnection


class PostgresDeadLetters:
    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def dead(self, limit: int, after: str = "") -> list[DeadLetter]:
        rows = await self._db.fetch("dead", {"limit": limit, "after": after})
        return [DeadLetter(*row) for row in rows]

    async def redrive(self, ids: list[str]) -> list[str]:
        if not ids:
            return []
        params = {"ids": list(ids), "now": self._clock.now()}
        found = await self._db.fetch("redrive", params)
        done = set(found[0][0]) if found else set()
        return [email_id for email_id in dict.fromkeys(ids) if email_id in done]
