"""Numbered schema migrations for the SQLite engine: `migrations/NNNN_name.sql`.

The version a file has reached is its PRAGMA user_version: the number of the last migration
applied (the release before numbered files wrote 4 for the same schema as 0001-0004). Opening
a file applies what it lacks in one transaction that re-reads the version under the write
lock, so processes starting together agree; a failed step rolls back whole.
"""

import sqlite3
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Migration:
    number: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """The file's statements, comment lines dropped (so a `;` in a comment is harmless)."""
        lines = (line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def migrations() -> list[Migration]:
    """Every migration shipped with this release, oldest first."""
    folder = resources.files("postroom.storage.sqlite").joinpath("migrations")
    found = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))
    return [
        Migration(int(name[:4]), name.removesuffix(".sql"), folder.joinpath(name).read_text())
        for name in found
    ]


MIGRATIONS = migrations()
SCHEMA_VERSION = MIGRATIONS[-1].number


def version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _unhex(text: str) -> bytes:
    return bytes.fromhex(text)


def _functions(conn: sqlite3.Connection) -> None:
    """The SQL functions migrations use that SQLite 3.40 lacks (unhex() came in 3.41)."""
    conn.create_function("postroom_unhex", 1, _unhex, deterministic=True)


def migrate(conn: sqlite3.Connection, upto: int = SCHEMA_VERSION) -> list[int]:
    """Apply the migrations the file lacks, up to `upto`; the numbers applied. `conn` must be
    in autocommit mode (isolation_level=None)."""
    if version(conn) >= upto:
        return []
    _functions(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        todo = [m for m in MIGRATIONS if version(conn) < m.number <= upto]
        for migration in todo:
            for statement in migration.statements():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {int(upto)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return [m.number for m in todo]
