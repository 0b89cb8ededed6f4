"""The embedded SQLite backend: group commit, durability across reopen, a full disk."""

import asyncio
import fcntl
import os
from pathlib import Path

import pytest

from postroom.domain.errors import StorageFullError, StorageUnavailableError
from postroom.domain.states import State
from postroom.ports.queue import NewEmail
from postroom.storage.sqlite import sqlite_storage, storage_of
from postroom.storage.sqlite.connection import SqliteConnection
from tests.conftest import ManualClock


def email(n: int, payload: bytes = b"x") -> NewEmail:
    return NewEmail(f"0190{n:04d}-0000-7000-8000-000000000000", payload, not_before=0.0)


async def test_concurrent_puts_share_commits(tmp_path: Path, clock: ManualClock) -> None:
    """300 requests waiting together are committed by at most two transactions."""
    connection = SqliteConnection(str(tmp_path / "q.db"), clock)
    queue = storage_of(connection)
    await queue.lifecycle.ping()
    baseline = connection.writer.commits
    lock = os.open(f"{tmp_path / 'q.db'}-writelock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # hold the writer at the door while requests pile up
    tasks = [asyncio.create_task(queue.queue.put(email(n))) for n in range(300)]
    await asyncio.sleep(0)  # one loop turn: every task has queued its write
    fcntl.flock(lock, fcntl.LOCK_UN)
    os.close(lock)
    await asyncio.gather(*tasks)
    assert connection.writer.commits - baseline <= 2
    assert (await queue.queue.stats()).ready == 300
    await queue.close()


async def test_answered_puts_survive_reopen(tmp_path: Path, clock: ManualClock) -> None:
    """What a put returned for is in the file when it is opened again."""
    path = str(tmp_path / "q.db")
    queue = sqlite_storage(path, clock)
    await asyncio.gather(*(queue.queue.put(email(n)) for n in range(50)))
    await queue.close()
    reopened = sqlite_storage(path, clock)
    assert (await reopened.queue.stats()).ready == 50
    status = await reopened.emails.status(email(7).id)
    assert status is not None
    assert status.state is State.QUEUED
    await reopened.close()


async def test_full_storage_refuses_and_stores_nothing(tmp_path: Path, clock: ManualClock) -> None:
    """Past the size cap a put raises StorageFullError and leaves no trace; earlier ones stay."""
    queue = sqlite_storage(str(tmp_path / "q.db"), clock, max_size_mb=1)
    stored = []
    for n in range(100):
        try:
            await queue.queue.put(email(n, os.urandom(50_000)))
        except StorageFullError:
            break
        stored.append(n)
    assert 5 < len(stored) < 100
    assert await queue.emails.status(email(len(stored)).id) is None
    for n in stored:
        assert await queue.emails.status(email(n).id) is not None
    await queue.close()


async def test_missing_directory_is_unavailable(tmp_path: Path, clock: ManualClock) -> None:
    """A database path in a directory that does not exist fails as unavailable, not a crash."""
    queue = sqlite_storage(str(tmp_path / "missing" / "q.db"), clock)
    with pytest.raises(StorageUnavailableError):
        await queue.lifecycle.ping()
    with pytest.raises(StorageUnavailableError):
        await queue.queue.put(email(1))
    await queue.close()
