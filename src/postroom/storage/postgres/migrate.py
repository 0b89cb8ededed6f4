"""Versioned schema migrations for the PostgreSQL engine.

Migrations are the files `migrations/NNNN_name.sql`, applied in name order; the version
is the file name without `.sql`. Each applied version is recorded in `postroom_schema_version`.
Pending migrations run in one transaction under a transaction-level advisory lock, so processes
starting together take turns: the first applies them, the others then find nothing to do. A
failed migration rolls back whole, leaving the schema at the previous version.
"""

from dataclasses import dataclass
from importlib import resources
from typing import Any

from psycopg import AsyncConnection

# "postroom" in ASCII: the advisory lock key every Postroom process agrees on.
LOCK_KEY = 0x706F7374726F6F6D

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS postroom_schema_version (
    version text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration shipped with this release, oldest first."""
    folder = resources.files("postroom.storage.postgres").joinpath("migrations")
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    return [Migration(entry.name.removesuffix(".sql"), entry.read_text()) for entry in files]


async def applied(conn: AsyncConnection[Any]) -> set[str]:
    """Versions recorded in the database; empty before the first migration."""
    cursor = await conn.execute("SELECT to_regclass('postroom_schema_version') IS NOT NULL")
    row = await cursor.fetchone()
    if row is None or not row[0]:
        return set()
    cursor = await conn.execute("SELECT version FROM postroom_schema_version")
    return {version for (version,) in await cursor.fetchall()}


async def migrate(conn: AsyncConnection[Any], upto: str | None = None) -> list[str]:
    """Apply the pending migrations (up to and including `upto`); the versions applied.

    `conn` must be in autocommit mode. An up-to-date schema is only read, never locked or
    written, so processes can start against a read-only database or as a role without DDL
    rights once `postroom migrate` has run.
    """
    if not _pending(await applied(conn), upto):
        return []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        await conn.execute(_VERSION_TABLE)
        # Read again under the lock: another process may have applied them while we waited.
        todo = _pending(await applied(conn), upto)
        for migration in todo:
            # No parameters: psycopg sends the file as one simple query, statements and all.
            await conn.execute(migration.sql.encode())
            await conn.execute(
                "INSERT INTO postroom_schema_version (version) VALUES (%s)", (migration.version,)
            )
    return [migration.version for migration in todo]


def _pending(done: set[str], upto: str | None) -> list[Migration]:
    return [
        m for m in migrations() if m.version not in done and (upto is None or m.version <= upto)
    ]
