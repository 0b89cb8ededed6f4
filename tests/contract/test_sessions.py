"""The SessionStore port (ports/sessions.py): browser sessions beside the keys they were made
from, on every store, and seen by every process on the same store (a second engine opened on
the same file or database)."""

from pathlib import Path

from postroom.ports.sessions import SessionStore, StoredSession
from postroom.ports.storage import Storage
from postroom.storage.sqlite import sqlite_storage
from tests.conftest import ManualClock
from tests.support.postgres import database_url

HOUR = 3600.0


def sessions_of(storage: Storage) -> SessionStore:
    assert storage.sessions is not None
    return storage.sessions


def made(token_hash: str, at: float, key_id: str = "k1", pages: str = "dashboard") -> StoredSession:
    return StoredSession(token_hash, pages, key_id, "acme", at, at + HOUR)


async def test_a_session_reads_back_with_its_key(store: Storage, clock: ManualClock) -> None:
    """A stored session reads back whole, with the key it names as the key store has it; an
    unknown hash reads nothing."""
    key = await store.keys.create_key(
        "k1", "ops", "key-hash", "pr_aaaa", "acme", frozenset({"admin"}), clock.now() + 9 * HOUR
    )
    session = made("a" * 64, clock.now())
    await sessions_of(store).create_session(session)
    assert await sessions_of(store).get_session("a" * 64, clock.now()) == (session, key)
    assert await sessions_of(store).get_session("b" * 64, clock.now()) is None


async def test_a_session_ends_at_its_expiry_and_is_purged(
    store: Storage, clock: ManualClock
) -> None:
    """A session reads until just before its expiry, not at it; the purge removes the expired
    ones only, and counts them."""
    await store.keys.create_key("k1", "ops", "key-hash", "pr_aaaa")
    sessions = sessions_of(store)
    start = clock.now()
    await sessions.create_session(made("old", start))
    await sessions.create_session(made("new", start + HOUR / 2))
    assert await sessions.get_session("old", start + HOUR - 1) is not None
    assert await sessions.get_session("old", start + HOUR) is None
    assert await sessions.purge_sessions(start + HOUR) == 1
    assert await sessions.purge_sessions(start + HOUR) == 0
    assert await sessions.get_session("new", start + HOUR) is not None


async def test_a_revoked_or_unknown_key_opens_no_session(
    store: Storage, clock: ManualClock
) -> None:
    """Revoking a key ends its sessions at the next read; a session naming a key the store
    does not hold reads nothing; the other key's sessions are untouched."""
    await store.keys.create_key("k1", "ops", "hash-1", "pr_aaaa")
    await store.keys.create_key("k2", "ops", "hash-2", "pr_bbbb")
    sessions = sessions_of(store)
    await sessions.create_session(made("one", clock.now(), "k1"))
    await sessions.create_session(made("two", clock.now(), "k2"))
    await sessions.create_session(made("ghost", clock.now(), "k-none"))
    await store.keys.revoke_key("k1")
    assert await sessions.get_session("one", clock.now()) is None
    assert await sessions.get_session("ghost", clock.now()) is None
    found = await sessions.get_session("two", clock.now())
    assert found is not None
    assert found[1].id == "k2"


async def test_deleting_ends_one_session(store: Storage, clock: ManualClock) -> None:
    """Logging out removes that session only; removing an unknown one is harmless."""
    await store.keys.create_key("k1", "ops", "key-hash", "pr_aaaa")
    sessions = sessions_of(store)
    await sessions.create_session(made("one", clock.now()))
    await sessions.create_session(made("two", clock.now(), pages="inbox"))
    await sessions.delete_session("one")
    await sessions.delete_session("unknown")
    assert await sessions.get_session("one", clock.now()) is None
    found = await sessions.get_session("two", clock.now())
    assert found is not None
    assert found[0].pages == "inbox"


async def test_a_session_is_seen_by_another_process_on_the_same_sqlite_file(
    tmp_path: Path, clock: ManualClock
) -> None:
    """Two `postroom api` processes are two engines on one file: a login one stores, the other
    reads at once, and a logout in either ends it for both."""
    path = str(tmp_path / "shared.db")
    one, other = sqlite_storage(path, clock), sqlite_storage(path, clock)
    try:
        await one.keys.create_key("k1", "ops", "key-hash", "pr_aaaa")
        await sessions_of(one).create_session(made("shared", clock.now()))
        assert await sessions_of(other).get_session("shared", clock.now()) is not None
        await sessions_of(other).delete_session("shared")
        assert await sessions_of(one).get_session("shared", clock.now()) is None
    finally:
        await one.close()
        await other.close()


async def test_a_session_is_seen_by_another_process_on_the_same_postgres_database(
    postgres_storage: Storage, postgres_database: str, clock: ManualClock
) -> None:
    """Two pools on one database: a session one stores, the other reads at once, and a key
    revoked through one ends the session for the other."""
    from postroom.storage.postgres import open_storage

    other = open_storage(database_url(postgres_database, "migrate=off"), clock)
    try:
        await postgres_storage.keys.create_key("k1", "ops", "key-hash", "pr_aaaa")
        await sessions_of(postgres_storage).create_session(made("shared", clock.now()))
        assert await sessions_of(other).get_session("shared", clock.now()) is not None
        await postgres_storage.keys.revoke_key("k1")
        assert await sessions_of(other).get_session("shared", clock.now()) is None
    finally:
        await other.close()
