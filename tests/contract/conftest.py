"""One behavioural suite for the queue/store port, run against every backend.

PostgreSQL runs against the server at POSTROOM_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres; a role allowed to create databases). A template
database is migrated once per session and each test gets a fresh copy of it, so tests start
from an empty schema in tens of milliseconds and never see each other's rows.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from postroom.ports.backend import Backend
from postroom.queues.memory import MemoryQueue
from postroom.queues.postgres import PostgresQueue
from postroom.queues.sqlite import SqliteQueue
from tests.conftest import ManualClock

BACKENDS = ["memory", "sqlite", "postgres"]

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


async def _migrate(url: str) -> None:
    queue = PostgresQueue.from_url(url, ManualClock())
    try:
        await queue.migrate()
    finally:
        await queue.close()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated database that each test copies (CREATE DATABASE ... TEMPLATE)."""
    name = unique_name("postroom_template")
    create_database(name)
    try:
        # A loop of its own, in a thread of its own: this fixture outlives every test's loop
        # and may be first asked for from inside one.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, _migrate(database_url(name))).result()
        yield name
    finally:
        drop_database(name)


@pytest.fixture
def postgres_database(postgres_template: str) -> Iterator[str]:
    """A fresh, migrated, empty database for one test; dropped afterwards."""
    name = unique_name("postroom_test")
    create_database(name, template=postgres_template)
    try:
        yield name
    finally:
        drop_database(name)


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[Backend]:
    opened: Backend
    if request.param == "memory":
        opened = MemoryQueue(clock)
    elif request.param == "postgres":
        # Asked for only here, so memory and SQLite run where PostgreSQL is absent.
        name = request.getfixturevalue("postgres_database")
        opened = PostgresQueue.from_url(database_url(name, "migrate=off"), clock)
    else:
        opened = SqliteQueue(str(tmp_path / "contract.db"), clock)
    try:
        yield opened
    finally:
        await opened.close()
