"""The browser sessions port: the logins of the service's own pages (the dev inbox, the
dashboard), kept in the store that holds the keys, so every process on it honours them."""

from dataclasses import dataclass
from typing import Protocol

from postroom.ports.keys import ApiKey


@dataclass(frozen=True, slots=True)
class StoredSession:
    # The SHA-256 of the cookie's token: a copy of the table opens no session.
    token_hash: str
    pages: str  # which pages it opens ("inbox", "dashboard")
    key_id: str  # the API key it was made from
    tenant: str  # that key's
    created_at: float  # seconds since the epoch, like every time in the store
    expires_at: float


class SessionStore(Protocol):
    """Sessions by token hash. Every write is durable before it returns and seen by the next
    read of any process on the same store."""

    async def create_session(self, session: StoredSession) -> None:
        """Store a new session (its token hash is new: 32 random bytes hashed)."""
        ...

    async def get_session(self, token_hash: str, now: float) -> tuple[StoredSession, ApiKey] | None:
        """The session with this hash and the key it was made from, in one read by primary
        key; None when there is none, it has expired at `now`, or its key is revoked or gone.
        The key's own expiry is for the caller to compare with its clock."""
        ...

    async def delete_session(self, token_hash: str) -> None:
        """Remove the session (logging out); nothing happens for an unknown hash."""
        ...

    async def purge_sessions(self, now: float) -> int:
        """Remove every session expired at `now`; how many went."""
        ...
