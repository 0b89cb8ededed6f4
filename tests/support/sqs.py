"""An SQS queue on moto's server for tests, created as `postroom sqs create-queues` creates it."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from postroom.ports.clock import Clock
from postroom.queues.sqlite import SqliteQueue
from postroom.queues.sqs import SqsQueue
from postroom.queues.sqs_client import create_queues, parse_url
from tests.conftest import ManualClock
from tests.support.moto import MotoServer


def sqs_url(moto: MotoServer, name: str, wait: int = 0) -> str:
    return f"sqs://us-east-1/{name}?endpoint_url={moto.url}&wait={wait}"


async def sqs_queue(moto: MotoServer, name: str, clock: Clock, tmp_path: Path) -> SqsQueue:
    """The queue and its DLQ created, a SQLite store beside it; a ManualClock moves moto's."""
    url = sqs_url(moto, name)
    await create_queues(parse_url(url), visibility=120)
    if isinstance(clock, ManualClock):
        clock.followers.append(moto.shift)
    return SqsQueue.from_url(url, SqliteQueue(str(tmp_path / "store.db"), clock), clock)


@contextlib.asynccontextmanager
async def opened_queue(
    moto: MotoServer, name: str, clock: Clock, tmp_path: Path
) -> AsyncIterator[SqsQueue]:
    """`sqs_queue`, closed afterwards."""
    queue = await sqs_queue(moto, name, clock, tmp_path)
    try:
        yield queue
    finally:
        await queue.close()
