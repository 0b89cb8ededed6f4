"""Group commit for SQLite: one writer thread, many requests per fsync.

Every write in the process goes through one thread that owns the write connection. It takes all
the operations waiting, runs them in one transaction and commits once; with `synchronous=FULL` in
WAL mode that commit is one fsync of the WAL, shared by the whole batch. Each caller is answered
only after the commit that holds its write has returned. Under load batches grow by themselves,
so throughput follows fsync latency instead of being bounded by it.

Plain inserts (`insert`) are gathered into one multi-row INSERT per batch. That is not only fewer
statements: the sqlite3 module releases the GIL around every statement and must win it back from
the busy event loop afterwards, so a statement per email would make the writer wait on the GIL
hundreds of times per batch.

Processes sharing the file take turns through an advisory lock file beside it (`flock`): a
waiting writer is woken by the kernel the moment the other one commits, where SQLite's own busy
handler would poll with sleeps of milliseconds.
"""

import asyncio
import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from postroom.domain.errors import StorageFullError, StorageUnavailableError

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], Any]

_SQLITE_FULL = 13


@dataclass(slots=True)
class _Job:
    operation: Operation | None
    row: tuple[Any, ...] | None
    future: "asyncio.Future[Any]"
    loop: asyncio.AbstractEventLoop


@dataclass(frozen=True, slots=True)
class BulkInsert:
    """`INSERT INTO table (columns) VALUES (...), (...)` for any number of rows."""

    table: str
    columns: tuple[str, ...]

    def sql(self, rows: int) -> str:
        values = "(" + ", ".join("?" * len(self.columns)) + ")"
        return f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES " + ", ".join(
            [values] * rows
        )


# SQLite binds at most 32,766 parameters per statement; batches stay far below with this cap.
_MAX_BATCH = 512


def storage_error(error: sqlite3.Error) -> StorageUnavailableError:
    """The port's error for an SQLite failure; the text names the cause, never the data."""
    if getattr(error, "sqlite_errorcode", None) == _SQLITE_FULL:
        return StorageFullError("storage is full")
    return StorageUnavailableError(f"sqlite: {type(error).__name__}")


class GroupCommitWriter:
    def __init__(
        self, connect: Callable[[], sqlite3.Connection], bulk: BulkInsert, lock_path: str
    ) -> None:
        self._connect = connect
        self._bulk = bulk
        self._lock_path = lock_path
        self._max_batch = _MAX_BATCH
        self._wake = threading.Condition()
        self._pending: list[_Job] = []
        self._closed = False
        # Read by metrics and tests: how many transactions committed, carrying how many writes.
        self.commits = 0
        self.writes = 0
        self._thread = threading.Thread(
            target=self._run, name="postroom-sqlite-writer", daemon=True
        )
        self._thread.start()

    async def run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run `operation` inside the next group transaction; return once it is committed."""
        return await self._submit(operation, None)  # type: ignore[no-any-return]

    async def insert(self, row: tuple[Any, ...]) -> None:
        """Insert one row of the bulk table in the next group transaction; return once committed."""
        await self._submit(None, row)

    async def _submit(self, operation: Operation | None, row: tuple[Any, ...] | None) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._wake:
            if self._closed:
                raise StorageUnavailableError("storage is closed")
            self._pending.append(_Job(operation, row, future, loop))
            self._wake.notify()
        return await future

    def close(self) -> None:
        """Commit what is pending, then stop the thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        lock = -1
        while batch := self._next_batch():
            try:
                conn = conn or self._connect()
                lock = (
                    lock if lock >= 0 else os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                )
            except (sqlite3.Error, OSError) as error:
                failure = (
                    storage_error(error)
                    if isinstance(error, sqlite3.Error)
                    else StorageUnavailableError("cannot open the lock file")
                )
                _deliver(batch, [_failure(failure)] * len(batch))
                continue
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                outcomes = _commit(conn, self._bulk, batch)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
            self.commits += 1
            self.writes += len(batch)
            _deliver(batch, outcomes)
        if conn is not None:
            conn.close()
        if lock >= 0:
            os.close(lock)

    def _next_batch(self) -> list[_Job]:
        with self._wake:
            while not self._pending and not self._closed:
                self._wake.wait()
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            return batch


_Outcome = tuple[bool, Any]


def _failure(error: BaseException) -> _Outcome:
    return (False, error)


def _commit(conn: sqlite3.Connection, bulk: BulkInsert, batch: list[_Job]) -> list[_Outcome]:
    try:
        return _transaction(conn, bulk, batch)
    except _OperationFailedError:
        # One write raised: run each alone, so one bad write does not fail its batch-mates.
        return [_alone(conn, bulk, job) for job in batch]
    except sqlite3.Error as error:
        return [_failure(storage_error(error))] * len(batch)


class _OperationFailedError(Exception):
    pass


def _transaction(conn: sqlite3.Connection, bulk: BulkInsert, batch: list[_Job]) -> list[_Outcome]:
    rows = [job.row for job in batch if job.row is not None]
    if len(rows) == len(batch):
        # Only inserts: one statement is its own transaction, committed (and fsynced) by SQLite.
        return _insert_only(conn, bulk, rows)
    conn.execute("BEGIN IMMEDIATE")
    try:
        if rows:
            conn.execute(bulk.sql(len(rows)), [value for row in rows for value in row])
        results = [(True, job.operation(conn) if job.operation else None) for job in batch]
    except Exception as error:
        _rollback(conn)
        if isinstance(error, sqlite3.OperationalError):
            raise  # storage itself failed (full, I/O, locked): the whole batch fails
        raise _OperationFailedError from error
    try:
        conn.execute("COMMIT")
    except sqlite3.Error:
        _rollback(conn)
        raise
    return results


def _insert_only(conn: sqlite3.Connection, bulk: BulkInsert, rows: list[Any]) -> list[_Outcome]:
    try:
        conn.execute(bulk.sql(len(rows)), [value for row in rows for value in row])
    except sqlite3.OperationalError:
        raise
    except sqlite3.Error as error:
        raise _OperationFailedError from error
    return [(True, None)] * len(rows)


def _alone(conn: sqlite3.Connection, bulk: BulkInsert, job: _Job) -> _Outcome:
    try:
        return _transaction(conn, bulk, [job])[0]
    except _OperationFailedError as error:
        return _failure(error.__cause__ or error)
    except sqlite3.Error as error:
        return _failure(storage_error(error))


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _deliver(batch: list[_Job], outcomes: list[_Outcome]) -> None:
    """Wake each waiting caller; one call per event loop rather than one per job."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, _Outcome]]] = {}
    for job, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(job.loop, []).append((job, outcome))
    for loop, items in by_loop.items():
        # A closed loop raises RuntimeError: nobody is waiting there any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, items)


def _resolve(items: list[tuple[_Job, _Outcome]]) -> None:
    for job, (ok, value) in items:
        if job.future.done():
            continue  # the caller went away (cancelled); the write stands
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)
