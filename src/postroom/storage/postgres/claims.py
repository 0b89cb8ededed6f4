"""Leasing by id in PostgreSQL, for a queue kept apart from this store (SQS)."""

import secrets

from postroom.ports.claims import Claimed
from postroom.ports.queue import Lease
from postroom.storage.postgres.connection import PostgresConnection


class PostgresClaims:
    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def claim(self, ids: list[str], visibility: float) -> Claimed:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return Claimed()
        now = self._clock.now()
        token = secrets.token_hex(8)
        params = {"ids": unique, "now": now, "token": token, "until": now + visibility}
        rows = await self._db.fetch("claim", params)
        leases = [
            Lease(id_, token, bytes(payload), n, created, now + visibility)
            for id_, payload, n, created in rows
        ]
        taken = {lease.id for lease in leases}
        rest = [i for i in unique if i not in taken]
        found: dict[str, float | None] = {}
        if rest:
            found = dict(await self._db.fetch("claim_rest", {"ids": rest}))
        later = {i: at for i, at in found.items() if at is not None}
        return Claimed(leases, later, [i for i in rest if i not in later])

    async def withdraw(self, email_id: str) -> None:
        await self._db.fetch("withdraw", {"id": email_id})

    async def waiting(self, after: str, limit: int) -> list[tuple[str, float]]:
        rows = await self._db.fetch("waiting", {"after": after, "limit": limit})
        return [(row[0], row[1]) for row in rows]
