"""One behavioural suite per port, run against every engine that implements it.

`storage` is a whole Storage bundle (ports/storage.py) of each engine: memory, SQLite,
PostgreSQL, and SQS standard and FIFO on moto's server (a SQLite store beside it; the test clock
moves moto's clock too, so visibility timeouts and delays lapse as the test says). `store` is
the engines that can be the store beside a separate queue (Claims), `postgres_storage` the
PostgreSQL engine alone (its circuits, notifications and migrations).

PostgreSQL runs against the server at POSTROOM_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres; a role allowed to create databases). A template
database is migrated once per session and each test gets a fresh copy of it, so tests start
from an empty schema in tens of milliseconds and never see each other's rows.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from postroom.ports.storage import Storage
from postroom.storage.memory import memory_storage
from postroom.storage.sqlite import sqlite_storage
from tests.conftest import ManualClock
from tests.support.moto import MotoServer
from tests.support.postgres import create_database, database_url, drop_database, unique_name
from tests.support.sqs import sqs_storage

ENGINES = ["memory", "sqlite", "postgres", "sqs", "sqs-fifo"]
STORES = ["memory", "sqlite", "postgres"]


async def _migrate(url: str) -> None:
    from postroom.storage.postgres import open_storage

    storage = open_storage(url, ManualClock())
    try:
        assert storage.migrations is not None
        await storage.migrations.migrate()
    finally:
        await storage.close()


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


async def _open(
    kind: str, request: pytest.FixtureRequest, clock: ManualClock, tmp: Path
) -> Storage:
    if kind.startswith("sqs"):
        # Asked for only here, like PostgreSQL: moto's server starts for SQS runs alone.
        moto: MotoServer = request.getfixturevalue("moto_server")
        fifo = ".fifo" if kind == "sqs-fifo" else ""
        return await sqs_storage(moto, f"contract{fifo}", clock, tmp)
    if kind == "memory":
        return memory_storage(clock)
    if kind == "postgres":
        from postroom.storage.postgres import open_storage

        # Asked for only here, so memory and SQLite run where PostgreSQL is absent.
        name = request.getfixturevalue("postgres_database")
        return open_storage(database_url(name, "migrate=off"), clock)
    return sqlite_storage(str(tmp / "contract.db"), clock)


@pytest.fixture(params=ENGINES)
async def storage(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[Storage]:
    opened = await _open(request.param, request, clock, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(params=STORES)
async def store(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[Storage]:
    """An engine that can serve as the store beside a separate queue (ports/claims.py)."""
    opened = await _open(request.param, request, clock, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def postgres_storage(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[Storage]:
    """The PostgreSQL engine alone, for the ports only it implements."""
    opened = await _open("postgres", request, clock, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(params=["sqs", "sqs-fifo"])
async def queue_apart(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[Storage]:
    """The engines whose queue is kept apart from the store (Requeue)."""
    opened = await _open(request.param, request, clock, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()
