"""Storage engines, chosen by URL scheme and imported only when used.

A scheme maps to "module:function" and the pip extra that brings its driver, so a deployment
that never uses PostgreSQL never imports psycopg, and one that needs it is told what to install.
Each engine's function returns a `Storage` bundle (ports/storage.py) of its port objects.
"""

from typing import Any

from postroom._lazy import load_class
from postroom.ports.clock import Clock
from postroom.ports.storage import Storage

ENGINES: dict[str, tuple[str, str | None]] = {
    "sqlite": ("postroom.storage.sqlite:open_storage", None),
    "memory": ("postroom.storage.memory:open_storage", None),
    "postgresql": ("postroom.storage.postgres:open_storage", "postgres"),
    "postgres": ("postroom.storage.postgres:open_storage", "postgres"),
}
# Queues kept apart from the store (POSTROOM_QUEUE_URL): they carry ids; the store the rest.
QUEUES: dict[str, tuple[str, str | None]] = {
    "sqs": ("postroom.storage.sqs:open_storage", "sqs"),
}


class StorageConfigError(ValueError):
    """The URL names no engine, or its engine cannot be loaded; the text says what to do."""


def scheme_of(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise StorageConfigError("not a URL (expected scheme://...)")
    return scheme.lower()


def check_url(url: str, known: dict[str, tuple[str, str | None]] = ENGINES) -> None:
    """Raise StorageConfigError unless the URL's scheme is one Postroom knows."""
    if scheme_of(url) not in known:
        raise StorageConfigError(f"unknown scheme {scheme_of(url)!r}; known: {', '.join(known)}")


def check_queue_url(url: str) -> None:
    """A queue URL names a queue apart from the store, or the store itself."""
    check_url(url, {**QUEUES, **ENGINES})


def open_storage(url: str, clock: Clock) -> Storage:
    """The engine at `url`: every port object over one connection."""
    check_url(url)
    opener = _load(ENGINES[scheme_of(url)])
    try:
        storage: Storage = opener(url, clock)
    except ValueError as error:
        raise StorageConfigError(str(error)) from None
    return storage


def open_queue(url: str, store: Storage, clock: Clock) -> Storage:
    """A queue apart from the store: its Queue (and Requeue) with every other port the
    store's."""
    check_url(url, QUEUES)
    opener = _load(QUEUES[scheme_of(url)])
    try:
        storage: Storage = opener(url, store, clock)
    except ValueError as error:
        raise StorageConfigError(str(error)) from None
    return storage


def _load(entry: tuple[str, str | None]) -> Any:
    target, extra = entry
    try:
        return load_class(target, extra)
    except ImportError as error:
        raise StorageConfigError(str(error)) from None
