"""The embedded SQLite backend: group commit, durability across reopen, a full disk."""

import asyncio
import fcntl
import os
from pathlib import Path

import pytest

from postroom.domain.errors import StorageFullError, StorageUnavailableError
from postroom.domain.states import State
from postroom.ports.queue import NewEmail
from postroom.queues.sqlite import SqliteQueue
from tests.conftest import ManualClock


def email(n: int, payload: bytes = b"x") -> NewEmail:
    return NewEmail(f"0190{n:04d}-0000-7000-8000-000000000000", payload, not_before=0.0)


async def test_concurrent_puts_share_commits(tmp_path: Path, clock: ManualClock) -> None:
    """300 requests waiting together are committed by at most two transactions."""
    queue = SqliteQueue(str(tmp_path / "q.db"), clock)
    await queue.ping()
    baseline = queue.writer.commits
    lock = os.open(f"{tmp_path / 'q.db'}-writelock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # hold the writer at the door while requests pile up
    tasks = [asyncio.create_task(queue.put(email(n))) for n in range(300)]
    await asyncio.sleep(0)  # one loop turn: every task has queued its write
    fcntl.flock(lock, fcntl.LOCK_UN)
    os.close(lock)
    await asyncio.gather(*tasks)
    assert queue.writer.commits - baseline <= 2
    assert (await queue.stats()).ready == 300
    await queue.close()


async def test_answered_puts_survive_reopen(tmp_path: Path, clock: ManualClock) -> None:
    """What a put returned for is in the file when it is opened again."""
    path = str(tmp_path / "q.db")
    queue = SqliteQueue(path, clock)
    await asyncio.gather(*(queue.put(email(n)) for n in range(50)))
    await queue.close()
    reopened = SqliteQueue(path, clock)
    assert (await reopened.stats()).ready == 50
    status = await reopened.status(email(7).id)
    assert status is not None
    assert status.state is State.QUEUED
    await reopened.close()


async def test_full_storage_refuses_and_stores_nothing(tmp_path: Path, clock: ManualClock) -> None:
    """Past the size cap a put raises StorageFullError and leaves no trace; earlier ones stay."""
    queue = SqliteQueue(str(tmp_path / "q.db"), clock, max_size_mb=1)
    stored = []
    for n in range(100):
        try:
            await queue.put(email(n, os.urandom(50_000)))
        except StorageFullError:
            break
        stored.append(n)
    assert 5 < len(stored) < 100
    assert await queue.status(email(len(stored)).id) is None
    for n in stored:
        assert await queue.status(email(n).id) is not None
    await queue.close()


async def test_missing_directory_is_unavailable(tmp_path: Path, clock: ManualClock) -> None:
    """A database path in a directory that does not exist fails as unavailable, not a crash."""
    queue = SqliteQueue(str(tmp_path / "missing" / "q.db"), clock)
    with pytest.raises(StorageUnavailableError):
        await queue.ping()
    with pytest.raises(StorageUnavailableError):
        await queue.put(email(1))
    await queue.close()
