"""Where API keys are stored: the api_keys table, hashes only."""

import sqlite3
from typing import Any

from postroom.domain.keys import DEFAULT_SCOPES, DEFAULT_TENANT, scopes_from_text, scopes_text
from postroom.ports.keys import ApiKey
from postroom.storage.sqlite.connection import SqliteConnection


class SqliteKeyStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def create_key(
        self,
        key_id: str,
        name: str,
        token_hash: str,
        prefix: str,
        tenant: str = DEFAULT_TENANT,
        scopes: frozenset[str] = DEFAULT_SCOPES,
        expires_at: float | None = None,
    ) -> ApiKey:
        now = self._clock.now()
        key = ApiKey(key_id, name, prefix, now, None, None, tenant, scopes, expires_at)
        row = (key_id, name, token_hash, prefix, now, tenant, scopes_text(scopes), expires_at)
        await self._db.write(
            lambda conn: conn.execute(
                "INSERT INTO api_keys (id, name, token_hash, prefix, created_at, tenant, scopes,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )
        return key

    async def active_keys(self) -> dict[str, ApiKey]:
        rows = await self._db.read(_keys, "WHERE revoked_at IS NULL")
        return {row[0]: _key(row[1:]) for row in rows}

    async def list_keys(self) -> list[ApiKey]:
        return [_key(row[1:]) for row in await self._db.read(_keys, "")]

    async def revoke_key(self, id_or_prefix: str) -> ApiKey | None:
        now = self._clock.now()

        def revoke(conn: sqlite3.Connection) -> ApiKey | None:
            row = conn.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?)"
                " WHERE id = ? OR prefix = ?"
                f" RETURNING {_COLUMNS}",
                (now, id_or_prefix, id_or_prefix),
            ).fetchone()
            return _key(row) if row else None

        return await self._db.write(revoke)

    async def touch_keys(self, used: dict[str, float]) -> None:
        if used:
            await self._db.write(
                lambda conn: conn.executemany(
                    "UPDATE api_keys SET last_used_at = ? WHERE id = ?",
                    [(at, key_id) for key_id, at in used.items()],
                )
            )


_COLUMNS = "id, name, prefix, created_at, last_used_at, revoked_at, tenant, scopes, expires_at"


def _keys(conn: sqlite3.Connection, where: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        f"SELECT token_hash, {_COLUMNS} FROM api_keys {where} ORDER BY created_at, id"
    ).fetchall()


def _key(row: tuple[Any, ...]) -> ApiKey:
    """An ApiKey from the _COLUMNS of a row (scopes stored as domain/keys.py scopes_text)."""
    key_id, name, prefix, created_at, last_used_at, revoked_at, tenant, scopes, expires_at = row
    return ApiKey(
        key_id,
        name,
        prefix,
        created_at,
        last_used_at,
        revoked_at,
        tenant,
        scopes_from_text(scopes),
        expires_at,
    )
