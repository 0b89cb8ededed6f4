"""Queue/store adapters, chosen by URL scheme and imported only when used.

A scheme maps to "module:Class" and the pip extra that brings its driver, so a deployment that
never uses PostgreSQL never imports psycopg, and one that needs it is told what to install.
"""

from typing import cast

from postroom._lazy import load_class
from postroom.ports.backend import Backend
from postroom.ports.clock import Clock

BACKENDS: dict[str, tuple[str, str | None]] = {
    "sqlite": ("postroom.queues.sqlite:SqliteQueue", None),
    "memory": ("postroom.queues.memory:MemoryQueue", None),
    "postgresql": ("postroom.queues.postgres:PostgresQueue", "postgres"),
    "postgres": ("postroom.queues.postgres:PostgresQueue", "postgres"),
}


class BackendConfigError(ValueError):
    """The URL names no backend, or its backend cannot be loaded; the text says what to do."""


def scheme_of(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise BackendConfigError("not a URL (expected scheme://...)")
    return scheme.lower()


def check_url(url: str) -> None:
    """Raise BackendConfigError unless the URL's scheme is one Postroom knows."""
    if scheme_of(url) not in BACKENDS:
        raise BackendConfigError(f"unknown scheme {scheme_of(url)!r}; known: {', '.join(BACKENDS)}")


def open_backend(url: str, clock: Clock) -> Backend:
    check_url(url)
    target, extra = BACKENDS[scheme_of(url)]
    try:
        adapter = load_class(target, extra)
    except ImportError as error:
        raise BackendConfigError(str(error)) from None
    try:
        return cast(Backend, adapter.from_url(url, clock))
    except ValueError as error:
        raise BackendConfigError(str(error)) from None
