"""The embedded SQLite backend: group commit, durability across reopen, a full disk."""

import asyncio
import fcntl
import os
import sqlite3
from pathlib import Path

import pytest

from postroom.domain.errors import StorageFullError, StorageUnavailableError
from postroom.domain.states import State
from postroom.ports.queue import Event, NewEmail
from postroom.ports.storage import Storage
from postroom.storage.sqlite import sqlite_storage, storage_of
from postroom.storage.sqlite.connection import SqliteConnection
from postroom.storage.sqlite.feed import _FEED_EVENTS
from postroom.storage.sqlite.migrate import migrate
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


async def test_full_store_delivers_and_resumes_after_a_purge(
    tmp_path: Path, clock: ManualClock
) -> None:
    """At the cap: ping says full, every stored email leases and settles; a purge of sent
    content frees room and intake resumes by itself."""
    store = sqlite_storage(str(tmp_path / "q.db"), clock, max_size_mb=1)
    stored = 0
    while True:
        try:
            await store.queue.put(email(stored, os.urandom(50_000)))
        except StorageFullError:
            break
        stored += 1
    with pytest.raises(StorageFullError):
        await store.lifecycle.ping()
    leases = await store.queue.lease(100, 60.0)
    assert len(leases) == stored
    sent = Event(clock.now(), State.SENT, "mailgun", "<id@mg>", "sent", "http_200")
    assert all(await asyncio.gather(*(store.queue.ack(lease, sent) for lease in leases)))
    clock.time += 10
    assert await store.sealed.purge_content(clock.now()) == stored
    await store.lifecycle.ping()
    await store.queue.put(email(stored + 1, os.urandom(50_000)))
    status = await store.emails.status(email(0).id)
    assert status is not None
    assert status.state is State.SENT
    await store.close()


async def test_settles_commit_past_the_page_limit_and_leasing_pauses(
    tmp_path: Path, clock: ManualClock
) -> None:
    """Retries until the headroom is gone: no settle is ever lost (that would resend an email);
    leasing stops with StorageFullError instead, and the file grows only by those settles."""
    path = tmp_path / "q.db"
    store = sqlite_storage(str(path), clock, max_size_mb=1)  # page limit: 1 + 8 MiB
    count = 0
    while True:
        try:
            await store.queue.put(email(count, b"x" * 200))
        except StorageFullError:
            break
        count += 1
    settled = await _retry_until_leasing_fails(store, clock)
    assert settled > 2 * count  # the headroom took several rounds of retries
    assert _size(str(path)) <= 11 * 1024 * 1024  # the page limit, plus the last settles
    await store.close()


async def _retry_until_leasing_fails(store: Storage, clock: ManualClock) -> int:
    """Lease everything and retry it at once, round after round, until a lease is refused as
    full; how many settles committed. A settle that fails raises out of here."""
    failed = Event(clock.now(), State.SENDING, "mailgun", "", "down", "http_503")
    retrying = Event(clock.now(), State.RETRYING, "", "provider down")
    settled = 0
    while True:
        try:
            leases = await store.queue.lease(500, 60.0)
        except StorageFullError:
            return settled
        retries = (store.queue.retry(lease, clock.now(), retrying, [failed]) for lease in leases)
        assert all(await asyncio.gather(*retries))
        settled += len(leases)


def _size(path: str) -> int:
    return os.path.getsize(path)


async def test_wal_stays_under_its_bound(tmp_path: Path, clock: ManualClock) -> None:
    """Writing past a capped file's WAL bound truncates the WAL instead of letting it grow."""
    path = tmp_path / "q.db"
    store = sqlite_storage(str(path), clock, max_size_mb=4)  # the WAL bound is 1 MiB
    largest = 0
    for n in range(60):
        await store.queue.put(email(n, os.urandom(50_000)))
        largest = max(largest, _size(f"{path}-wal"))
    assert largest <= 1024 * 1024 + 100_000  # the bound plus the one batch that crossed it
    assert (await store.queue.stats()).ready == 60
    await store.close()


async def test_missing_directory_is_unavailable(tmp_path: Path, clock: ManualClock) -> None:
    """A database path in a directory that does not exist fails as unavailable, not a crash."""
    queue = sqlite_storage(str(tmp_path / "missing" / "q.db"), clock)
    with pytest.raises(StorageUnavailableError):
        await queue.lifecycle.ping()
    with pytest.raises(StorageUnavailableError):
        await queue.queue.put(email(1))
    await queue.close()


@pytest.mark.parametrize("where", ["seq > ?", "seq IN (SELECT value FROM json_each(?))"])
def test_feed_writes_find_their_events_by_seq(tmp_path: Path, where: str) -> None:
    """EXPLAIN QUERY PLAN of the feed's insert: the events are looked up by seq, not found by
    walking an index on their state (through every matched event ever stored)."""
    conn = sqlite3.connect(tmp_path / "plan.db", isolation_level=None)
    migrate(conn)
    sql = f"EXPLAIN QUERY PLAN {_FEED_EVENTS.format(where)}"
    steps = [str(row[3]) for row in conn.execute(sql, (0.0, "[1]" if "json" in where else 0, "x"))]
    conn.close()
    events = [s for s in steps if "provider_events" in s]
    assert events
    assert all("USING INTEGER PRIMARY KEY" in s for s in events), events
