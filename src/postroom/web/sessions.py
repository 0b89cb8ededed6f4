"""Browser sessions for the pages the service serves (the dev inbox, the dashboard), kept in the
store (ports/sessions.py) so every process on it honours a login and a restart keeps it.

The cookie holds a random token (32 bytes); the store keeps only its SHA-256, the id of the key
the user pasted, the key's tenant and the times. The key itself is never kept, nor put in the
cookie or a URL. The pages' form token is derived from the cookie's token (HMAC), so nothing
more is stored and a copy of the table can forge neither. Each request reads the session and
its key in one read by primary key: a revoked key ends its sessions at once, an expired one at
its expiry. A session lasts SESSION_SECONDS from the login, whatever is done with it, as the
cookie does.
"""

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from postroom.domain.errors import StorageUnavailableError
from postroom.domain.keys import expired
from postroom.ports.keys import ApiKey
from postroom.ports.sessions import SessionStore, StoredSession

SESSION_SECONDS = 12 * 3600
TOKEN_BYTES = 32
# What the form token is an HMAC of, keyed by the cookie's token.
_CSRF_LABEL = b"postroom pages form token"


@dataclass(frozen=True, slots=True)
class Session:
    key: ApiKey  # the key the session was made from, as the store has it now
    csrf: str  # the token the pages' forms carry


def session_hash(token: str) -> str:
    """What the store keeps of a cookie's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def form_token(token: str) -> str:
    """The pages' form token of the session with this cookie token: the same in every process,
    and telling nothing of the cookie's token."""
    return hmac.new(token.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


class Sessions:
    """One set of pages' sessions (`pages`: "inbox", "dashboard"): a session opens only the
    pages it was made for. `store` None keeps none (every login fails as storage would)."""

    def __init__(
        self,
        store: SessionStore | None,
        pages: str,
        now: Callable[[], float] = time.time,
        on_use: Callable[[ApiKey], None] | None = None,
    ) -> None:
        self._store = store
        self._pages = pages
        self._now = now
        # Told of the key behind each request a session lets in: its last-used time moves as
        # it would for a request carrying the key itself.
        self._on_use = on_use
        # The forms' token when nobody logs in (POSTROOM_INSECURE_NO_AUTH).
        self.anonymous_csrf = secrets.token_urlsafe(TOKEN_BYTES)

    async def open(self, key: ApiKey) -> str:
        """A new session for `key`: the token for the cookie. Raises StorageUnavailableError."""
        store = self._require()
        now = self._now()
        await store.purge_sessions(now)  # logins are rare: the table stays small without a worker
        token = secrets.token_urlsafe(TOKEN_BYTES)
        stored = StoredSession(
            session_hash(token), self._pages, key.id, key.tenant, now, now + SESSION_SECONDS
        )
        await store.create_session(stored)
        return token

    async def get(self, token: str | None) -> Session | None:
        """The live session with this cookie token, or None (absent, unknown, expired, of other
        pages, or its key revoked or expired). Raises StorageUnavailableError."""
        if not token or self._store is None:
            return None
        now = self._now()
        found = await self._store.get_session(session_hash(token), now)
        if found is None:
            return None
        stored, key = found
        if stored.pages != self._pages or expired(key.expires_at, now):
            return None
        if self._on_use is not None:
            self._on_use(key)
        return Session(key, form_token(token))

    async def close(self, token: str | None) -> None:
        """End the session (logging out). Raises StorageUnavailableError."""
        if token and self._store is not None:
            await self._store.delete_session(session_hash(token))

    def _require(self) -> SessionStore:
        if self._store is None:
            raise StorageUnavailableError("no store keeps sessions")
        return self._store


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so the token cannot be guessed a character at a time; a
    caller without a token (a Bearer key: no forms) matches nothing."""
    if given is None or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
