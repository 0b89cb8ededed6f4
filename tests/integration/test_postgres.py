"""The PostgreSQL backend against a real server: migrations, SKIP LOCKED, NOTIFY, failures."""

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from postroom.domain.errors import StorageUnavailableError
from postroom.domain.states import State
from postroom.ports.queue import Event, NewEmail, PutOutcome
from postroom.ports.storage import Storage
from postroom.storage.postgres import migrate as postgres_migrate
from postroom.storage.postgres import open_storage
from postroom.storage.postgres.connection import PostgresConnection
from postroom.storage.postgres.options import parse_url
from tests.conftest import ManualClock
from tests.support.postgres import (
    ADMIN_URL,
    admin_connection,
    create_database,
    database_url,
    drop_database,
    fresh_database,
    unique_name,
)

VISIBILITY = 60.0


def email(n: int, key: str | None = None) -> NewEmail:
    return NewEmail(
        f"0190{n:04d}-0000-7000-8000-000000000000",
        f"payload-{n}".encode(),
        not_before=0.0,
        idempotency_key=key,
        fingerprint=b"f" if key else b"",
    )


@pytest.fixture
def database() -> Iterator[str]:
    """An empty database (no schema yet), dropped afterwards."""
    with fresh_database("postroom_it") as name:
        yield name


@contextlib.asynccontextmanager
async def opened(url: str, clock: ManualClock) -> AsyncIterator[Storage]:
    queue = open_storage(url, clock)
    try:
        yield queue
    finally:
        await queue.close()


async def schema_of(url: str) -> set[tuple[Any, ...]]:
    """Columns, indexes and constraints of Postroom's tables, comparable across databases."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        columns = await conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default,"
            " collation_name, is_identity FROM information_schema.columns"
            " WHERE table_name LIKE 'postroom%%' AND table_name <> 'postroom_schema_version'"
        )
        indexes = await conn.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE tablename LIKE 'postroom%%'"
            " AND tablename <> 'postroom_schema_version'"
        )
        constraints = await conn.execute(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid::regclass::text LIKE 'postroom%%'"
            " AND conrelid::regclass::text <> 'postroom_schema_version'"
        )
        return {
            *(("column", *row) for row in await columns.fetchall()),
            *(("index", *row) for row in await indexes.fetchall()),
            *(("constraint", *row) for row in await constraints.fetchall()),
        }


async def test_migrate_is_idempotent_and_records_versions(
    database: str, clock: ManualClock
) -> None:
    """migrate() applies every migration once, records it, and then has nothing to do."""
    versions = [m.version for m in postgres_migrate.migrations()]
    async with opened(database_url(database, "migrate=off"), clock) as queue:
        assert await queue.migrations.migrate() == versions
        assert await queue.migrations.migrate() == []
        await queue.lifecycle.ping()
    async with await psycopg.AsyncConnection.connect(database_url(database)) as conn:
        cursor = await conn.execute("SELECT version FROM postroom_schema_version ORDER BY 1")
        assert [row[0] for row in await cursor.fetchall()] == versions


async def test_step_by_step_schema_equals_all_at_once(database: str) -> None:
    """Migrating one version at a time builds the same schema as running every file in one go."""
    fresh = unique_name("postroom_fresh")
    create_database(fresh)
    try:
        async with await psycopg.AsyncConnection.connect(
            database_url(database), autocommit=True
        ) as conn:
            for migration in postgres_migrate.migrations():
                assert await postgres_migrate.migrate(conn, upto=migration.version) == [
                    migration.version
                ]
        everything = "\n".join(m.sql for m in postgres_migrate.migrations())
        async with await psycopg.AsyncConnection.connect(
            database_url(fresh), autocommit=True
        ) as conn:
            await conn.execute(everything.encode())
        stepped = await schema_of(database_url(database))
        assert stepped
        assert stepped == await schema_of(database_url(fresh))
    finally:
        drop_database(fresh)


async def test_processes_starting_together_migrate_once(database: str, clock: ManualClock) -> None:
    """Two processes migrating at once: the advisory lock lets one apply, the other waits."""
    url = database_url(database, "migrate=off")
    async with opened(url, clock) as first, opened(url, clock) as second:
        results = await asyncio.gather(first.migrations.migrate(), second.migrations.migrate())
    assert sorted(results, key=len) == [[], [m.version for m in postgres_migrate.migrations()]]


async def test_first_use_migrates_by_itself(database: str, clock: ManualClock) -> None:
    """Without migrate=off the schema is created on first use, like SQLite's."""
    async with opened(database_url(database), clock) as queue:
        assert (await queue.queue.put(email(1))).outcome is PutOutcome.CREATED
        assert await queue.migrations.migrate() == []


async def test_two_instances_never_lease_the_same_email(database: str, clock: ManualClock) -> None:
    """Concurrent leases from two processes hand out every email exactly once (SKIP LOCKED)."""
    url = database_url(database)
    async with opened(url, clock) as first, opened(url, clock) as second:
        await asyncio.gather(*(first.queue.put(email(n)) for n in range(200)))
        batches = await asyncio.gather(
            *(queue.queue.lease(7, VISIBILITY) for _ in range(20) for queue in (first, second))
        )
        leased = [lease.id for batch in batches for lease in batch]
        assert len(leased) == len(set(leased)) == 200
        assert all(len(batch) <= 7 for batch in batches)
        assert (await first.queue.stats()).in_flight == 200


async def test_one_key_from_two_instances_creates_one_email(
    database: str, clock: ManualClock
) -> None:
    """Puts with one idempotency key racing from two processes store one email."""
    url = database_url(database)
    async with opened(url, clock) as first, opened(url, clock) as second:
        await first.migrations.migrate()
        results = await asyncio.gather(
            *(q.queue.put(email(n, key="race")) for n in range(20) for q in (first, second))
        )
        assert [r.outcome for r in results].count(PutOutcome.CREATED) == 1
        assert len({r.id for r in results}) == 1
        assert (await first.queue.stats()).ready == 1


async def test_puts_arriving_together_share_statements(database: str, clock: ManualClock) -> None:
    """Three hundred simultaneous puts are written by a handful of statements, all stored."""
    async with opened(database_url(database), clock) as queue:
        await queue.migrations.migrate()
        await asyncio.gather(*(queue.queue.put(email(n)) for n in range(300)))
        assert queue.queue.write_batches <= 10
        assert (await queue.queue.stats()).ready == 300
        leases = await queue.queue.lease(300, VISIBILITY)
        before = queue.queue.write_batches
        await asyncio.gather(
            *(queue.queue.ack(lease, Event(clock.now(), State.SENT)) for lease in leases)
        )
        assert queue.queue.write_batches - before <= 10
        assert (await queue.queue.stats()).in_flight == 0


async def test_notify_wakes_a_waiting_worker(database: str, clock: ManualClock) -> None:
    """A put in one process wakes wait_for_new in another at once; without one it times out."""
    url = database_url(database)
    async with opened(url, clock) as worker, opened(url, clock) as api:
        await api.migrations.migrate()
        await worker.wake.wait_for_new(5)  # returns once listening: emails may have come before
        started = time.monotonic()
        await worker.wake.wait_for_new(0.3)
        assert time.monotonic() - started >= 0.3
        waiting = asyncio.create_task(worker.wake.wait_for_new(10))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        started = time.monotonic()
        await api.queue.put(email(1))
        await asyncio.wait_for(waiting, 5)
        assert time.monotonic() - started < 2


async def test_read_only_database_refuses_puts(database: str, clock: ManualClock) -> None:
    """A database switched to read-only makes puts fail as unavailable, and nothing is stored."""
    async with opened(database_url(database), clock) as queue:
        await queue.migrations.migrate()
    _read_only(database, on=True)
    async with opened(database_url(database), clock) as queue:  # new connections read-only
        for new in (email(1), email(2, key="k")):
            with pytest.raises(StorageUnavailableError, match="ReadOnlySqlTransaction"):
                await queue.queue.put(new)
        with pytest.raises(StorageUnavailableError, match="read-only"):
            await queue.lifecycle.ping()
    _read_only(database, on=False)
    async with opened(database_url(database), clock) as queue:
        assert await queue.emails.status(email(1).id) is None
        assert await queue.emails.status(email(2).id) is None
        assert (await queue.queue.put(email(2, key="k"))).outcome is PutOutcome.CREATED


def _read_only(database: str, on: bool) -> None:
    change = (
        "ALTER DATABASE {} SET default_transaction_read_only = on"
        if on
        else "ALTER DATABASE {} RESET default_transaction_read_only"
    )
    with admin_connection() as conn:
        conn.execute(sql.SQL(change).format(sql.Identifier(database)))


async def test_unreachable_server_fails_fast_without_secrets(clock: ManualClock) -> None:
    """A server that does not answer raises StorageUnavailableError within the connect timeout,
    and neither the error nor the queue's repr shows the password."""
    url = f"postgresql://postroom:sekrit@127.0.0.1:{_free_port()}/nowhere?connect_timeout=1"
    async with opened(url, clock) as queue:
        assert "sekrit" not in repr(queue)
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError) as raised:
            await queue.queue.put(email(1))
        assert time.monotonic() - started < 3
        assert "sekrit" not in str(raised.value)
        assert "127.0.0.1" not in str(raised.value)
        with pytest.raises(StorageUnavailableError):
            await queue.lifecycle.ping()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Relay:
    """A TCP relay to the PostgreSQL server that a test can cut and restore: a server outage
    (and its return) without touching the real server other tests share."""

    def __init__(self) -> None:
        target = urlsplit(ADMIN_URL)
        self._target = (target.hostname or "127.0.0.1", target.port or 5432)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._streams: set[asyncio.StreamWriter] = set()
        self._relays: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for stream in self._streams:
            stream.close()
        await asyncio.gather(*self._relays)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._relays.add(task)
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._streams |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        self._streams -= {writer, up_writer}
        self._relays.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def test_recovers_by_itself_when_the_server_returns(
    database: str, clock: ManualClock
) -> None:
    """While the server is gone puts fail as unavailable; once it is back they succeed again."""
    relay = _Relay()
    await relay.start()
    url = database_url(database).replace(f":{urlsplit(ADMIN_URL).port}/", f":{relay.port}/")
    async with opened(f"{url}?connect_timeout=1", clock) as queue:
        await queue.queue.put(email(1))
        await relay.cut()
        with pytest.raises(StorageUnavailableError):
            await queue.queue.put(email(2))
        await relay.start()
        deadline = time.monotonic() + 15
        while True:
            try:
                await queue.queue.put(email(3))
                break
            except StorageUnavailableError:
                assert time.monotonic() < deadline, "no recovery within 15 s"
                await asyncio.sleep(0.1)
        assert (await queue.queue.stats()).ready == 2
    await relay.cut()


def test_url_options_and_masking() -> None:
    """Postroom's options leave the URL, libpq's stay, and passwords never show."""
    conninfo, options = parse_url(
        "postgres://app:pw@db.internal:6432/mail?pool_max=20&pool_timeout=2&migrate=off"
        "&sslmode=require"
    )
    assert (options.max_size, options.timeout, options.auto_migrate) == (20, 2.0, False)
    assert conninfo.startswith("postgresql://app:pw@db.internal:6432/mail?")
    assert "sslmode=require" in conninfo
    assert "pool_max" not in conninfo
    assert "connect_timeout=5" in conninfo
    queue = PostgresConnection.from_url("postgresql://app:pw@h/db?password=pw2", ManualClock())
    assert "pw" not in repr(queue).replace("password", "")
    for bad in ("postgresql://h", "mysql://h/db", "postgresql://h/db?pool_max=x"):
        with pytest.raises(ValueError, match=r"^((?!pw).)*$"):
            parse_url(bad)


async def test_api_keys_round_trip(database: str, clock: ManualClock) -> None:
    """Keys are stored by hash, touched in one statement, revoked by id or visible prefix."""
    async with opened(database_url(database), clock) as store:
        first = await store.keys.create_key("k1", "ci", "hash-1", "pr_aaaa")
        clock.advance(1)
        await store.keys.create_key("k2", "app", "hash-2", "pr_bbbb")
        await store.keys.touch_keys({"k1": clock.now(), "k2": clock.now() + 1})
        revoked = await store.keys.revoke_key("pr_aaaa")
        assert revoked is not None
        assert (revoked.id, revoked.revoked_at, revoked.last_used_at) == (
            "k1",
            clock.now(),
            clock.now(),
        )
        assert await store.keys.revoke_key("pr_none") is None
        assert list(await store.keys.active_keys()) == ["hash-2"]
        assert [key.id for key in await store.keys.list_keys()] == [first.id, "k2"]


async def test_reseal_pages_through_payloads_and_reasons(database: str, clock: ManualClock) -> None:
    """reseal_page rewrites a page of payloads and event reasons and says where to go on."""
    async with opened(database_url(database), clock) as store:
        for n in range(3):
            await store.queue.put(email(n))
        (lease, *_) = await store.queue.lease(1, VISIBILITY)
        await store.queue.dead_letter(
            lease, Event(clock.now(), State.FAILED, "x", "550 no such user")
        )

        def seal(value: bytes, context: bytes) -> bytes | None:
            return None if value.startswith(b"sealed:") else b"sealed:" + context + value

        def seal_text(value: str, context: bytes) -> str | None:
            return None if value.startswith("sealed:") else f"sealed:{value}"

        assert await store.sealed.reseal_page("", 2, seal, seal_text) == (3, email(1).id)
        assert await store.sealed.reseal_page(email(1).id, 2, seal, seal_text) == (1, email(2).id)
        assert await store.sealed.reseal_page(email(2).id, 2, seal, seal_text) == (0, None)
        assert await store.sealed.reseal_page("", 10, seal, seal_text) == (0, email(2).id)
        assert await store.sealed.sample_payload() == (
            email(2).id,
            b"sealed:" + email(2).id.encode() + b"payload-2",
        )
        assert await store.sealed.count_emails() == 3
        status = await store.emails.status(email(0).id)
        assert status is not None
        assert status.events[-1].reason == "sealed:550 no such user"


async def test_count_since_counts_one_keys_emails(database: str, clock: ManualClock) -> None:
    """count_since counts only the given key's emails created from the given time on."""
    async with opened(database_url(database), clock) as store:
        for n, owner in enumerate(("k1", "k2", "k1")):
            await store.queue.put(NewEmail(email(n).id, b"x", not_before=0.0, owner=owner))
            clock.advance(10)
        assert await store.emails.count_since("k1", 0.0) == 2
        assert await store.emails.count_since("k1", clock.now() - 15) == 1
        assert await store.emails.count_since("k3", 0.0) == 0
        status = await store.emails.status(email(1).id)
        assert status is not None
        assert status.owner == "k2"
