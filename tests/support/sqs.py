"""An SQS queue on moto's server for tests, created as `postroom sqs create-queues` creates it."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from postroom.ports.clock import Clock
from postroom.ports.storage import Storage
from postroom.storage.sqlite import sqlite_storage
from postroom.storage.sqs import open_storage
from postroom.storage.sqs.client import create_queues, parse_url
from tests.conftest import ManualClock
from tests.support.moto import MotoServer


def sqs_url(moto: MotoServer, name: str, wait: int = 0) -> str:
    return f"sqs://us-east-1/{name}?endpoint_url={moto.url}&wait={wait}"


async def sqs_storage(moto: MotoServer, name: str, clock: Clock, tmp_path: Path) -> Storage:
    """The queue and its DLQ created, a SQLite store beside it; a ManualClock moves moto's."""
    url = sqs_url(moto, name)
    await create_queues(parse_url(url), visibility=120)
    if isinstance(clock, ManualClock):
        clock.followers.append(moto.shift)
    return open_storage(url, sqlite_storage(str(tmp_path / "store.db"), clock), clock)


@contextlib.asynccontextmanager
async def opened_storage(
    moto: MotoServer, name: str, clock: Clock, tmp_path: Path
) -> AsyncIterator[Storage]:
    """`sqs_storage`, closed afterwards."""
    storage = await sqs_storage(moto, name, clock, tmp_path)
    try:
        yield storage
    finally:
        await storage.close()
