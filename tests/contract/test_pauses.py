"""The ProviderPauses port (ports/pauses.py): providers an operator paused, on every store, and
seen by every process on the same store (a second engine opened on the same file or database)."""

from pathlib import Path

from postroom.ports.storage import Storage
from postroom.storage.sqlite import sqlite_storage
from tests.conftest import ManualClock
from tests.support.postgres import database_url


async def test_pause_and_resume(store: Storage) -> None:
    """Nothing is paused at first; a pause reads back with its time, a second pause keeps the
    first time; a resume lifts it once; other providers are untouched."""
    pauses = store.pauses
    assert pauses is not None
    assert await pauses.paused() == {}
    assert await pauses.pause("mailgun", 100.0) is True
    assert await pauses.pause("mailgun", 200.0) is False
    assert await pauses.pause("smtp-1", 150.5) is True
    assert await pauses.paused() == {"mailgun": 100.0, "smtp-1": 150.5}
    assert await pauses.resume("mailgun") is True
    assert await pauses.resume("mailgun") is False
    assert await pauses.resume("sendgrid") is False
    assert await pauses.paused() == {"smtp-1": 150.5}


async def test_a_pause_is_seen_by_another_process_on_the_same_sqlite_file(
    tmp_path: Path, clock: ManualClock
) -> None:
    """`postroom providers pause` and a worker are two engines on one file: each sees the
    other's writes at its next read."""
    path = str(tmp_path / "shared.db")
    one, other = sqlite_storage(path, clock), sqlite_storage(path, clock)
    try:
        assert one.pauses is not None
        assert other.pauses is not None
        assert await other.pauses.paused() == {}
        await one.pauses.pause("mailgun", 100.0)
        assert await other.pauses.paused() == {"mailgun": 100.0}
        await other.pauses.resume("mailgun")
        assert await one.pauses.paused() == {}
    finally:
        await one.close()
        await other.close()


async def test_a_pause_is_seen_by_another_process_on_the_same_postgres_database(
    postgres_storage: Storage, postgres_database: str, clock: ManualClock
) -> None:
    """Two pools on one database: a pause one writes, the other reads at once."""
    from postroom.storage.postgres import open_storage

    other = open_storage(database_url(postgres_database, "migrate=off"), clock)
    try:
        assert postgres_storage.pauses is not None
        assert other.pauses is not None
        await postgres_storage.pauses.pause("sendgrid", 7.25)
        assert await other.pauses.paused() == {"sendgrid": 7.25}
        assert await other.pauses.resume("sendgrid") is True
        assert await postgres_storage.pauses.paused() == {}
    finally:
        await other.close()
