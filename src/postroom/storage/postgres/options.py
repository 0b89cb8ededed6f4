"""PostgreSQL connection settings: URL and pool options, and error mapping."""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors

from postroom.domain.errors import StorageFullError, StorageUnavailableError

Row = tuple[Any, ...]

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


def connect_failure(conninfo: str, error: Exception) -> StorageUnavailableError:
    """An opening failure naming host:port and libpq's cause (refused, no such database, ...),
    for the one line start-up prints; libpq's text names hosts, users and databases, no data."""
    parts = urlsplit(conninfo)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    cause = text.rpartition(" failed: ")[2].replace("FATAL:  ", "").strip()
    return StorageUnavailableError(f"cannot connect to PostgreSQL at {where}: {cause}")
