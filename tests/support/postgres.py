"""A PostgreSQL server for tests: fresh databases per test, skipped locally when absent, a
failure under CI (where .ci/run starts it)."""

import contextlib
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

ADMIN_URL = os.environ.get(
    "POSTROOM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def database_url(name: str, query: str = "") -> str:
    """The admin URL pointed at another database of the same server."""
    parts = urlsplit(ADMIN_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", query, ""))


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    """Skip when PostgreSQL is absent; fail in CI, where it must be there."""
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        message = "PostgreSQL is not reachable at POSTROOM_TEST_POSTGRES_URL"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def create_database(name: str, template: str | None = None) -> None:
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        query = sql.SQL("{} TEMPLATE {}").format(query, sql.Identifier(template))
    with admin_connection() as conn:
        conn.execute(query)


def drop_database(name: str) -> None:
    # FORCE: a test that failed half-way may have left a connection open.
    query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with admin_connection() as conn:
        conn.execute(query)


@contextlib.contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """An empty database of its own (its name), dropped afterwards; skips or fails as above."""
    admin_connection().close()
    name = unique_name(prefix)
    create_database(name)
    try:
        yield name
    finally:
        drop_database(name)
