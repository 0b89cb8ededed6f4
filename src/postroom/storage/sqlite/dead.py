"""Where dead letters are kept: emails rows with dead = 1."""

import sqlite3
from typing import Any

from postroom.domain.states import State
from postroom.ports.dead import DeadLetter
from postroom.storage.sqlite.bulks import EVENTS
from postroom.storage.sqlite.connection import SqliteConnection


class SqliteDeadLetters:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def dead(self, limit: int, after: str = "") -> list[DeadLetter]:
        rows = await self._db.read(_dead, limit, after)
        return [DeadLetter(*row) for row in rows]

    async def redrive(self, ids: list[str]) -> list[str]:
        return await self._db.write(lambda conn: self._redrive(conn, ids))

    def _redrive(self, conn: sqlite3.Connection, ids: list[str]) -> list[str]:
        if not ids:
            return []
        now = self._clock.now()
        queued = State.QUEUED.value
        done = [
            row[0]
            for row in conn.execute(
                "UPDATE emails SET dead = 0, state = ?, available_at = ?, attempts = 0,"
                " lease_token = NULL, updated_at = ?"
                f" WHERE dead = 1 AND payload IS NOT NULL AND id IN ({', '.join('?' * len(ids))})"
                " RETURNING id",
                (queued, now, now, *ids),
            )
        ]
        if done:
            EVENTS.run(conn, [(email_id, now, queued, "", "redriven") for email_id in done])
        return done


def _dead(conn: sqlite3.Connection, limit: int, after: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        # The last provider attempt names the provider and the error class.
        "SELECT id, updated_at, attempts,"
        " coalesce(a.provider, emails.provider), coalesce(a.outcome, '')"
        " FROM emails LEFT JOIN events a ON a.rowid = ("
        "  SELECT max(rowid) FROM events WHERE email_id = emails.id AND outcome != '')"
        " WHERE dead = 1 AND id > ? ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()
