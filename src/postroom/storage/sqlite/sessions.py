"""Browser sessions in the SQLite file, so every `postroom api` process on the file honours a
login and a restart keeps it: the sessions table (migrations/0013_sessions.sql)."""

import sqlite3
from typing import Any

from postroom.ports.keys import ApiKey
from postroom.ports.sessions import StoredSession
from postroom.storage.sqlite.connection import SqliteConnection
from postroom.storage.sqlite.keys import _key

# One read through both primary keys: the session's hash, then its key's id.
_GET = (
    "SELECT s.token_hash, s.pages, s.key_id, s.tenant, s.created_at, s.expires_at,"
    " k.id, k.name, k.prefix, k.created_at, k.last_used_at, k.revoked_at, k.tenant, k.scopes,"
    " k.expires_at"
    " FROM sessions s JOIN api_keys k ON k.id = s.key_id"
    " WHERE s.token_hash = ? AND s.expires_at > ? AND k.revoked_at IS NULL"
)


class SqliteSessionStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    async def create_session(self, session: StoredSession) -> None:
        row = (
            session.token_hash,
            session.pages,
            session.key_id,
            session.tenant,
            session.created_at,
            session.expires_at,
        )
        await self._db.write(
            lambda conn: conn.execute(
                "INSERT INTO sessions (token_hash, pages, key_id, tenant, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    async def get_session(self, token_hash: str, now: float) -> tuple[StoredSession, ApiKey] | None:
        row = await self._db.read(_get, token_hash, now)
        return (StoredSession(*row[:6]), _key(row[6:])) if row else None

    async def delete_session(self, token_hash: str) -> None:
        await self._db.write(
            lambda conn: conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
        )

    async def purge_sessions(self, now: float) -> int:
        def purge(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,)).rowcount

        return await self._db.write(purge)


def _get(conn: sqlite3.Connection, token_hash: str, now: float) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(_GET, (token_hash, now)).fetchone()
    return row
