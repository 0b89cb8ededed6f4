"""The pages' sessions (web/sessions.py) over the memory engine's store: random tokens kept
only as hashes, a form token derived from the cookie's, a fixed lifetime, one set of pages."""

import pytest

from postroom.domain.errors import StorageUnavailableError
from postroom.domain.keys import ADMIN
from postroom.ports.keys import ApiKey
from postroom.ports.storage import Storage
from postroom.services.auth import Authenticator
from postroom.storage.memory import memory_storage
from postroom.web.sessions import (
    SESSION_SECONDS,
    Sessions,
    form_token,
    same_token,
    session_hash,
)
from tests.conftest import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def storage(clock: ManualClock) -> Storage:
    return memory_storage(clock)


async def admin_key(storage: Storage, expires_at: float | None = None) -> ApiKey:
    return await storage.keys.create_key(
        "k1", "ops", "key-hash", "pr_aaaa", "acme", frozenset({ADMIN}), expires_at
    )


def board(storage: Storage, clock: ManualClock, pages: str = "dashboard") -> Sessions:
    return Sessions(storage.sessions, pages, clock.now)


async def test_a_session_holds_for_its_lifetime_then_ends(
    storage: Storage, clock: ManualClock
) -> None:
    """A session opens its key's pages for SESSION_SECONDS from the login, not a second more."""
    key = await admin_key(storage)
    sessions = board(storage, clock)
    token = await sessions.open(key)
    session = await sessions.get(token)
    assert session is not None
    assert (session.key, session.csrf) == (key, form_token(token))
    clock.advance(SESSION_SECONDS - 1)
    assert await sessions.get(token) is not None
    clock.advance(1)
    assert await sessions.get(token) is None


async def test_the_store_keeps_no_token(storage: Storage, clock: ManualClock) -> None:
    """What is stored is the token's SHA-256, the key's id and tenant; neither the cookie's
    token nor the form token can be read back from it."""
    sessions = board(storage, clock)
    token = await sessions.open(await admin_key(storage))
    assert len(token) >= 40
    assert storage.sessions is not None
    found = await storage.sessions.get_session(session_hash(token), clock.now())
    assert found is not None
    stored = found[0]
    assert (stored.key_id, stored.tenant, stored.pages) == ("k1", "acme", "dashboard")
    assert token not in repr(stored)
    assert form_token(token) not in repr(stored)
    assert form_token(token) != token


async def test_tokens_are_random_and_closing_ends_one(storage: Storage, clock: ManualClock) -> None:
    """Two logins get two tokens; logging out ends only its own; no token or a guessed one
    opens nothing."""
    key = await admin_key(storage)
    sessions = board(storage, clock)
    first, second = await sessions.open(key), await sessions.open(key)
    assert first != second
    await sessions.close(first)
    assert await sessions.get(first) is None
    assert await sessions.get(second) is not None
    assert await sessions.get(None) is None
    assert await sessions.get("guess") is None


async def test_a_session_opens_only_its_own_pages(storage: Storage, clock: ManualClock) -> None:
    """A dashboard session's token sent as the inbox's cookie opens nothing there."""
    token = await board(storage, clock).open(await admin_key(storage))
    assert await board(storage, clock, "inbox").get(token) is None


async def test_an_expired_or_revoked_key_ends_its_sessions(
    storage: Storage, clock: ManualClock
) -> None:
    """The key is read with the session at every request: at its expiry, or once revoked, the
    session opens nothing."""
    sessions = board(storage, clock)
    key = await admin_key(storage, expires_at=clock.now() + 60)
    token = await sessions.open(key)
    clock.advance(60)
    assert await sessions.get(token) is None
    other = await storage.keys.create_key("k2", "ops", "hash-2", "pr_bbbb")
    token = await sessions.open(other)
    await storage.keys.revoke_key("k2")
    assert await sessions.get(token) is None


async def test_expired_sessions_are_purged_at_the_next_login(
    storage: Storage, clock: ManualClock
) -> None:
    """The table stays small even where no worker runs the hourly purge."""
    key = await admin_key(storage)
    sessions = board(storage, clock)
    await sessions.open(key)
    clock.advance(SESSION_SECONDS)
    await sessions.open(key)
    assert storage.sessions is not None
    assert await storage.sessions.purge_sessions(clock.now()) == 0


async def test_without_a_store_no_login_is_kept(clock: ManualClock) -> None:
    """No store: logging in fails as storage would (503), and no cookie opens anything."""
    sessions = Sessions(None, "inbox", clock.now)
    key = ApiKey("k1", "ops", "pr_aaaa", clock.now())
    with pytest.raises(StorageUnavailableError):
        await sessions.open(key)
    assert await sessions.get("anything") is None


def test_tokens_compare_whole() -> None:
    """A token matches only itself; a missing one never."""
    assert same_token("abc", "abc")
    assert not same_token("abd", "abc")
    assert not same_token(None, "abc")
    assert not same_token("", "abc")


async def test_a_request_a_session_lets_in_moves_its_keys_last_use(
    storage: Storage, clock: ManualClock
) -> None:
    """The key behind a page session is in use while the session is: `keys list` shows the
    time of the last request the session let in, not only of the login."""
    key = await admin_key(storage)
    authenticator = Authenticator(storage.keys, clock)
    sessions = Sessions(storage.sessions, "dashboard", clock.now, authenticator.note_use)
    token = await sessions.open(key)
    clock.advance(3600)
    assert await sessions.get(token) is not None
    await authenticator.flush()
    (listed,) = await storage.keys.list_keys()
    assert listed.last_used_at == clock.now()
