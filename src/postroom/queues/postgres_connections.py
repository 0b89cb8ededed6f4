"""PostgreSQL connections for the queue: URL and pool options, error mapping, and the
coalescer that lets writes arriving together share one statement."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors

from postroom.domain.errors import StorageFullError, StorageUnavailableError

Row = tuple[Any, ...]

# A batch stays well inside PostgreSQL's 1 GB limit for one parameter (the payload array).
_MAX_BATCH_ROWS = 500
_MAX_BATCH_BYTES = 32 * 1024 * 1024
# Options of the URL that configure Postroom; everything else is handed to libpq.
_OWN_OPTIONS = ("pool_min", "pool_max", "pool_timeout", "migrate")


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """psycopg's failures as the port's error: the text names the cause, never data or hosts.

    Server down, connection lost, too many connections, pool timeout (all OperationalError),
    a read-only database (ReadOnlySqlTransaction, an InternalError) and a missing schema or
    privilege mean storage cannot take the write; anything else is a bug and propagates."""
    try:
        yield
    except errors.DiskFull:
        raise StorageFullError("postgresql: disk full") from None
    except errors.UndefinedTable:
        raise StorageUnavailableError("postgresql: no schema; run `postroom migrate`") from None
    except (
        psycopg.OperationalError,
        psycopg.InterfaceError,
        psycopg.InternalError,
        errors.InsufficientPrivilege,
    ) as error:
        raise StorageUnavailableError(f"postgresql unavailable ({type(error).__name__})") from None


@dataclass(frozen=True, slots=True)
class PoolOptions:
    min_size: int = 1
    max_size: int = 10
    # Seconds a request waits for a connection (all busy, or the server unreachable).
    timeout: float = 5.0
    # Apply pending migrations on first use; off when only `postroom migrate` may change DDL.
    auto_migrate: bool = True

    @property
    def parallel_writes(self) -> int:
        """Statements of one kind (new emails, settles) in flight at once."""
        return max(1, self.max_size // 4)


class Coalescer:
    """Writes of one kind that arrive together share one statement: one round trip, one commit.

    At most `parallel` statements of the kind are in flight; writes that arrive while they are
    busy wait and go together in the next one. A lone write waits for nobody, and under load
    batches grow by themselves (the group commit of docs/storage.md, over the network)."""

    def __init__(self, write: Callable[[list[Row]], Awaitable[list[Any]]], parallel: int) -> None:
        self._write = write
        self._parallel = parallel
        self._pending: list[tuple[Row, asyncio.Future[Any]]] = []
        self._active = 0
        self._starting = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.statements = 0

    async def submit(self, row: Row) -> Any:
        """The write's result once its statement committed; its error otherwise."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        if not self._starting and self._active < self._parallel:
            self._active += 1
            self._starting = True  # one starter at a time, so a burst lands in one batch
            task = asyncio.create_task(self._run())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def drain(self) -> None:
        """Return when every write submitted so far is done."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _run(self) -> None:
        self._starting = False
        try:
            while self._pending:
                await self._flush(self._take())
        finally:
            # No await between the last look at _pending and here: a write submitted
            # after it sees this slot free and starts a task.
            self._active -= 1

    def _take(self) -> list[tuple[Row, asyncio.Future[Any]]]:
        size, count = 0, 0
        for row, _ in self._pending[:_MAX_BATCH_ROWS]:
            size += sum(len(value) for value in row if isinstance(value, bytes))
            if count and size > _MAX_BATCH_BYTES:
                break
            count += 1
        batch, self._pending = self._pending[:count], self._pending[count:]
        return batch

    async def _flush(self, batch: list[tuple[Row, asyncio.Future[Any]]]) -> None:
        self.statements += 1
        try:
            results = await self._write([row for row, _ in batch])
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # done: the caller went away (cancelled); the write stands
                future.set_result(result)


def parse_url(url: str) -> tuple[str, PoolOptions]:
    """The libpq connection URL and Postroom's pool options; ValueError naming the problem."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("expected postgresql://user@host:port/database")
    if not parts.hostname and "host" not in query:  # ?host=/run/postgresql: a Unix socket
        raise ValueError("the URL names no host (postgresql://user@HOST:port/database)")
    if not parts.path.strip("/") and "dbname" not in query:
        raise ValueError("the URL names no database (postgresql://user@host/DATABASE)")
    own = {name: query.pop(name) for name in _OWN_OPTIONS if name in query}
    query.setdefault("connect_timeout", "5")
    query.setdefault("application_name", "postroom")
    conninfo = urlunsplit(
        ("postgresql", parts.netloc, parts.path, urlencode(query, quote_via=quote), "")
    )
    return conninfo, _pool_options(own, query["connect_timeout"])


def _pool_options(own: dict[str, str], connect_timeout: str) -> PoolOptions:
    try:
        options = PoolOptions(
            min_size=int(own.get("pool_min", "1")),
            max_size=int(own.get("pool_max", "10")),
            # By default a request waits as long as one connection attempt may take.
            timeout=float(own.get("pool_timeout", connect_timeout)),
            auto_migrate=own.get("migrate", "on").lower() not in ("off", "false", "0", "no"),
        )
    except ValueError:
        raise ValueError("pool_min, pool_max and pool_timeout must be numbers") from None
    if not 0 <= options.min_size <= options.max_size or options.max_size < 1:
        raise ValueError("expected 0 <= pool_min <= pool_max and pool_max >= 1")
    if options.timeout <= 0:
        raise ValueError("pool_timeout must be positive")
    return options


def masked(conninfo: str) -> str:
    """The URL without its password (in the authority or as an option), for logs and repr."""
    parts = urlsplit(conninfo)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username or ''}:***@{netloc.rpartition('@')[2]}"
    query = [
        (name, "***" if "password" in name.lower() else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, quote_via=quote), ""))
