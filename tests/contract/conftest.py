"""One behavioural suite for the queue/store port, run against every backend.

SQS runs against moto's server (a SQLite store beside it), standard and FIFO queues; the test
clock moves moto's clock too, so visibility timeouts and delays lapse as the test says.

PostgreSQL runs against the server at POSTROOM_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres; a role allowed to create databases). A template
database is migrated once per session and each test gets a fresh copy of it, so tests start
from an empty schema in tens of milliseconds and never see each other's rows.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from postroom.ports.backend import Backend, StoreBackend
from postroom.queues.memory import MemoryQueue
from postroom.queues.postgres import PostgresQueue
from postroom.queues.sqlite import SqliteQueue
from tests.conftest import ManualClock
from tests.support.moto import MotoServer
from tests.support.postgres import create_database, database_url, drop_database, unique_name
from tests.support.sqs import sqs_queue

BACKENDS = ["memory", "sqlite", "postgres", "sqs", "sqs-fifo"]


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


STORES = ["memory", "sqlite", "postgres"]


async def _open(kind: str, request: pytest.FixtureRequest, clock: ManualClock, tmp: Path) -> Any:
    if kind.startswith("sqs"):
        # Asked for only here, like PostgreSQL: moto's server starts for SQS runs alone.
        moto: MotoServer = request.getfixturevalue("moto_server")
        fifo = ".fifo" if kind == "sqs-fifo" else ""
        return await sqs_queue(moto, f"contract{fifo}", clock, tmp)
    if kind == "memory":
        return MemoryQueue(clock)
    if kind == "postgres":
        # Asked for only here, so memory and SQLite run where PostgreSQL is absent.
        name = request.getfixturevalue("postgres_database")
        return PostgresQueue.from_url(database_url(name, "migrate=off"), clock)
    return SqliteQueue(str(tmp / "contract.db"), clock)


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[Backend]:
    opened: Backend = await _open(request.param, request, clock, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(params=STORES)
async def store(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[StoreBackend]:
    """A backend that can serve as the store beside a separate queue (ports/claims.py)."""
    opened: StoreBackend = await _open(request.param, request, clock, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()
