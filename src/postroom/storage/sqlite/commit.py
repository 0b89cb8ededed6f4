"""Group commit for SQLite: one writer thread, many requests per fsync.

Every write in the process goes through one thread that owns the write connection. It takes all
the operations waiting, runs them in one transaction and commits once; with `synchronous=FULL` in
WAL mode that commit is one fsync of the WAL, shared by the whole batch. Each caller is answered
only after the commit that holds its write has returned. Under load batches grow by themselves,
so throughput follows fsync latency instead of being bounded by it.

Frequent writes of one shape (new emails, settled leases) are "bulk" writes: all rows of a kind
in a batch go into one or two statements. That is not only fewer statements: the sqlite3 module
releases the GIL around every statement and must win it back from the busy event loop afterwards,
so a statement per email would make the writer wait on the GIL hundreds of times per batch.

Processes sharing the file take turns through an advisory lock file beside it (`flock`): a
waiting writer is woken by the kernel the moment the other one commits, where SQLite's own busy
handler would poll with sleeps of milliseconds.
"""

import asyncio
import contextlib
import fcntl
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from postroom.domain.errors import StorageFullError, StorageUnavailableError
from postroom.storage.sqlite.space import Space

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], Any]
Row = tuple[Any, ...]

_SQLITE_FULL = 13
# SQLite binds at most 32,766 parameters per statement; batches stay far below with this cap.
MAX_BATCH = 512


class Bulk(Protocol):
    @property
    def single_statement(self) -> bool:
        """True when `run` is one statement, which SQLite then commits atomically by itself."""
        ...

    @property
    def intake(self) -> bool:
        """True for new email: refused while the file is at its size cap (space.py)."""
        ...

    @property
    def settles(self) -> bool:
        """True for settling leases: committed even past the engine's page limit (space.py),
        because the email was already handed to a provider and a lost settle resends it."""
        ...

    def run(self, conn: sqlite3.Connection, rows: Sequence[Row]) -> list[Any]:
        """Write every row in as few statements as possible; one result per row, in order."""
        ...


def values_sql(rows: int, columns: int) -> str:
    """`(?, ?), (?, ?)` for `rows` rows of `columns` placeholders."""
    one = "(" + ", ".join("?" * columns) + ")"
    return ", ".join([one] * rows)


def flatten(rows: Sequence[Row]) -> list[Any]:
    return [value for row in rows for value in row]


@dataclass(frozen=True, slots=True)
class BulkInsert:
    """`INSERT INTO table (columns) VALUES (...), (...)` for any number of rows."""

    table: str
    columns: tuple[str, ...]
    single_statement: bool = True
    intake: bool = False
    settles: bool = False

    def sql(self, rows: int) -> str:
        names = ", ".join(self.columns)
        return f"INSERT INTO {self.table} ({names}) VALUES {values_sql(rows, len(self.columns))}"

    def run(self, conn: sqlite3.Connection, rows: Sequence[Row]) -> list[Any]:
        conn.execute(self.sql(len(rows)), flatten(rows))
        return [None] * len(rows)


@dataclass(slots=True)
class _Job:
    kind: str  # a bulk kind, or "" for a one-off operation
    work: Any  # the Row for a bulk kind, the Operation otherwise
    future: "asyncio.Future[Any]"
    loop: asyncio.AbstractEventLoop
    intake: bool  # new email: refused while the file is at its size cap


def storage_error(error: sqlite3.Error) -> StorageUnavailableError:
    """The port's error for an SQLite failure; the text names the cause, never the data."""
    if getattr(error, "sqlite_errorcode", None) == _SQLITE_FULL:
        return StorageFullError("storage is full")
    return StorageUnavailableError(f"sqlite: {type(error).__name__}")


class GroupCommitWriter:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        bulks: dict[str, Bulk],
        lock_path: str,
        space: Space,
    ) -> None:
        self._connect = connect
        self._bulks = bulks
        self._lock_path = lock_path
        self.space = space
        self._wake = threading.Condition()
        self._pending: list[_Job] = []
        # Writes submitted during the current turn of each event loop, not yet handed over.
        self._buffers: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        self._closed = False
        # Read by metrics and tests: how many transactions committed, carrying how many writes.
        self.commits = 0
        self.writes = 0
        self._thread = threading.Thread(
            target=self._run, name="postroom-sqlite-writer", daemon=True
        )
        self._thread.start()

    async def run(self, operation: Callable[[sqlite3.Connection], T], intake: bool = False) -> T:
        """Run `operation` inside the next group transaction; return once it is committed.
        An `intake` operation (new email) fails with StorageFullError at the size cap."""
        return await self._submit("", operation, intake)  # type: ignore[no-any-return]

    async def bulk(self, kind: str, row: Row) -> Any:
        """Write one row of a bulk kind in the next group transaction; its result once committed."""
        return await self._submit(kind, row, self._bulks[kind].intake)

    async def _submit(self, kind: str, work: Any, intake: bool) -> Any:
        if self._closed:
            raise StorageUnavailableError("storage is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        buffered = self._buffers.get(loop)
        if buffered is None:
            buffered = self._buffers[loop] = []
            loop.call_soon(self._hand_over, loop)
        buffered.append(_Job(kind, work, future, loop, intake))
        return await future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        # Writes queued during one turn of the event loop reach the writer together: one lock
        # and one wake-up for all of them instead of one per write (that was a tenth of a
        # delivery's CPU).
        jobs = self._buffers.pop(loop, [])
        with self._wake:
            if not self._closed:
                self._pending.extend(jobs)
                self._wake.notify()
                return
        _resolve([(job, _failure(StorageUnavailableError("storage is closed"))) for job in jobs])

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
                outcomes = _commit_with_room(conn, self._bulks, batch, self.space)
                self.space.bound_wal(conn)
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
            batch = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            return batch


_Outcome = tuple[bool, Any]


def _failure(error: BaseException) -> _Outcome:
    return (False, error)


class _OperationFailedError(Exception):
    pass


def _commit_with_room(
    conn: sqlite3.Connection, bulks: dict[str, Bulk], batch: list[_Job], space: Space
) -> list[_Outcome]:
    """Commit the batch, refusing its new email when the file is at its cap. A batch that hit
    the engine's own page limit as a whole is committed again without its new email, and if
    that is still full, its settles alone past the limit (space.py); the rest fail as full."""
    try:
        refused = space.check(conn)
    except sqlite3.Error:
        refused = False  # the commit below meets the same failure and reports it
    tiers = (
        [job for job in batch if not (refused and job.intake)],
        [job for job in batch if not job.intake],
        [job for job in batch if job.kind and bulks[job.kind].settles],
    )
    done: dict[int, _Outcome] = {}
    tried: list[_Job] | None = None
    for tier, jobs in enumerate(tiers):
        if tier == 1 and jobs == tried:
            continue  # no new email in the batch, or it was refused already
        if tier:
            space.refuse_intake()
        commit = functools.partial(_commit, conn, bulks, jobs)
        outcomes = space.past_limit(conn, commit) if tier == 2 else commit()
        tried = jobs
        if not jobs or not all(map(_is_full, outcomes)):
            done = dict(zip(map(id, jobs), outcomes, strict=True))
            break
    full = _failure(StorageFullError("storage is full"))
    return [done.get(id(job), full) for job in batch]


def _is_full(outcome: _Outcome) -> bool:
    return not outcome[0] and isinstance(outcome[1], StorageFullError)


def _commit(conn: sqlite3.Connection, bulks: dict[str, Bulk], batch: list[_Job]) -> list[_Outcome]:
    if not batch:
        return []
    try:
        return _transaction(conn, bulks, batch)
    except _OperationFailedError:
        # One write raised: run each alone, so one bad write does not fail its batch-mates.
        return [_alone(conn, bulks, job) for job in batch]
    except sqlite3.Error as error:
        return [_failure(storage_error(error))] * len(batch)


def _transaction(
    conn: sqlite3.Connection, bulks: dict[str, Bulk], batch: list[_Job]
) -> list[_Outcome]:
    groups: dict[str, list[int]] = {}
    for index, job in enumerate(batch):
        groups.setdefault(job.kind, []).append(index)
    results: list[Any] = [None] * len(batch)
    alone = len(groups) == 1 and "" not in groups and bulks[batch[0].kind].single_statement
    if not alone:
        conn.execute("BEGIN IMMEDIATE")
    try:
        for kind, indexes in groups.items():
            for index, result in zip(
                indexes, _run_group(conn, bulks, kind, batch, indexes), strict=True
            ):
                results[index] = result
    except Exception as error:
        _rollback(conn)
        if isinstance(error, sqlite3.OperationalError):
            raise  # storage itself failed (full, I/O, locked): the whole batch fails
        raise _OperationFailedError from error
    if not alone:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error:
            _rollback(conn)
            raise
    return [(True, result) for result in results]


def _run_group(
    conn: sqlite3.Connection,
    bulks: dict[str, Bulk],
    kind: str,
    batch: list[_Job],
    indexes: list[int],
) -> list[Any]:
    if kind:
        return bulks[kind].run(conn, [batch[i].work for i in indexes])
    return [batch[i].work(conn) for i in indexes]


def _alone(conn: sqlite3.Connection, bulks: dict[str, Bulk], job: _Job) -> _Outcome:
    try:
        return _transaction(conn, bulks, [job])[0]
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
