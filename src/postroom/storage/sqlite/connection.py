"""The SQLite engine's one connection object: the group-commit writer and a reader thread,
shared by every port object of the engine, so their writes share transactions and fsyncs."""

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from postroom.domain.errors import StorageFullError
from postroom.ports.clock import Clock
from postroom.storage.sqlite.bulks import BULKS
from postroom.storage.sqlite.commit import GroupCommitWriter, Row, storage_error
from postroom.storage.sqlite.migrate import migrate
from postroom.storage.sqlite.space import Space

T = TypeVar("T")


class SqliteConnection:
    """One SQLite file in WAL mode, fsynced before every answer; several processes may share
    the file."""

    def __init__(
        self, path: str, clock: Clock, *, max_size_mb: int = 0, busy_ms: int = 5000
    ) -> None:
        self.path = path
        self.clock = clock
        self._busy_ms = busy_ms
        self._space = Space(path, max_size_mb, busy_ms)
        self._writer = GroupCommitWriter(
            self._connect_writer, BULKS, f"{path}-writelock", self._space
        )
        self._reader = ThreadPoolExecutor(1, "postroom-sqlite-reader")
        self._local_reader: sqlite3.Connection | None = None

    @classmethod
    def from_url(cls, url: str, clock: Clock) -> "SqliteConnection":
        """`sqlite:///relative.db`, `sqlite:////absolute.db`; `?max_size_mb=N` caps intake."""
        parts = urlsplit(url)
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if not path or path == ":memory:" or parts.netloc:
            raise ValueError("expected sqlite:///path/to/file.db")
        query = parse_qs(parts.query)
        max_size = int(query.get("max_size_mb", ["0"])[0])
        busy = int(query.get("busy_timeout_ms", ["5000"])[0])
        return cls(path, clock, max_size_mb=max_size, busy_ms=busy)

    @property
    def writer(self) -> GroupCommitWriter:
        return self._writer

    def __repr__(self) -> str:
        return f"SqliteConnection({self.path!r})"

    def _open(self) -> sqlite3.Connection:
        # The directory is not created: a wrong path should fail loudly, not make a new store.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=self._busy_ms / 1000)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at every commit, so a committed email survives power loss.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_ms)}")
        return conn

    def _connect_writer(self) -> sqlite3.Connection:
        conn = self._open()
        migrate(conn)
        self._space.configure(conn)
        return conn

    async def write(self, operation: Callable[[sqlite3.Connection], T], intake: bool = False) -> T:
        """Run `operation` in the next group transaction; return once it is committed. An
        `intake` operation (new email) fails with StorageFullError at the size cap."""
        return await self._writer.run(operation, intake)

    async def bulk(self, kind: str, row: Row) -> Any:
        """One row of a bulk kind (bulks.py) in the next group transaction."""
        return await self._writer.bulk(kind, row)

    async def read(self, query: Callable[..., T], *args: Any) -> T:
        """`query(conn, *args)` on the read-only connection, in its thread."""
        if self._local_reader is None:
            await self.ping()  # the writer creates the file and schema on first use
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._reader, self._read_sync, query, args)
        except sqlite3.Error as error:
            raise storage_error(error) from None

    def _read_sync(self, query: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._local_reader is None:
            self._local_reader = self._open()
            self._local_reader.execute("PRAGMA query_only=ON")
        return query(self._local_reader, *args)

    async def ping(self) -> None:
        # Through the writer: proves the file can be opened, the schema exists and a
        # transaction commits, which is what intake needs.
        # Fetched whole: a cursor left open keeps a read transaction on the writer connection
        # (its result lives until the next batch), which would stall every WAL checkpoint.
        await self._writer.run(lambda conn: conn.execute("SELECT 1 FROM emails LIMIT 1").fetchall())

    async def ready(self) -> None:
        """`ping`, then StorageFullError while new email is refused at the size cap (the
        writer's check of that batch has just run, so this is the file's state now)."""
        await self.ping()
        if self._space.intake_refused:
            raise StorageFullError("storage is full: new email is refused at max_size_mb")

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._writer.close)
        self._reader.submit(self._close_reader).result()
        self._reader.shutdown()

    def _close_reader(self) -> None:
        if self._local_reader is not None:
            self._local_reader.close()
            self._local_reader = None
