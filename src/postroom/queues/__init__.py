"""Queue/store adapters, chosen by URL scheme and imported only when used.

A scheme maps to "module:Class" and the pip extra that brings its driver, so a deployment that
never uses PostgreSQL never imports psycopg, and one that needs it is told what to install.
"""

from typing import Any, cast

from postroom._lazy import load_class
from postroom.ports.backend import Backend, StoreBackend
from postroom.ports.clock import Clock

BACKENDS: dict[str, tuple[str, str | None]] = {
    "sqlite": ("postroom.queues.sqlite:SqliteQueue", None),
    "memory": ("postroom.queues.memory:MemoryQueue", None),
    "postgresql": ("postroom.queues.postgres:PostgresQueue", "postgres"),
    "postgres": ("postroom.queues.postgres:PostgresQueue", "postgres"),
}
# Queues kept apart from the store (POSTROOM_QUEUE_URL): they carry ids; the store the rest.
QUEUES: dict[str, tuple[str, str | None]] = {
    "sqs": ("postroom.queues.sqs:SqsQueue", "sqs"),
}


class BackendConfigError(ValueError):
    """The URL names no backend, or its backend cannot be loaded; the text says what to do."""


def scheme_of(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise BackendConfigError("not a URL (expected scheme://...)")
    return scheme.lower()


def check_url(url: str, known: dict[str, tuple[str, str | None]] = BACKENDS) -> None:
    """Raise BackendConfigError unless the URL's scheme is one Postroom knows."""
    if scheme_of(url) not in known:
        raise BackendConfigError(f"unknown scheme {scheme_of(url)!r}; known: {', '.join(known)}")


def check_queue_url(url: str) -> None:
    """A queue URL names a queue apart from the store, or the store itself."""
    check_url(url, {**QUEUES, **BACKENDS})


def open_backend(url: str, clock: Clock) -> StoreBackend:
    check_url(url)
    adapter = _load(BACKENDS[scheme_of(url)])
    try:
        return cast(StoreBackend, adapter.from_url(url, clock))
    except ValueError as error:
        raise BackendConfigError(str(error)) from None


def open_queue(url: str, store: StoreBackend, clock: Clock) -> Backend:
    """A queue apart from the store, wrapping it: the whole Backend port."""
    check_url(url, QUEUES)
    adapter = _load(QUEUES[scheme_of(url)])
    try:
        return cast(Backend, adapter.from_url(url, store, clock))
    except ValueError as error:
        raise BackendConfigError(str(error)) from None


def _load(entry: tuple[str, str | None]) -> Any:
    target, extra = entry
    try:
        return load_class(target, extra)
    except ImportError as error:
        raise BackendConfigError(str(error)) from None
