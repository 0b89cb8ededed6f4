"""Browser sessions for the pages the service serves (the dev inbox, the dashboard): a random
id in an HttpOnly cookie, kept in this process.

The key a user pasted stays on the server, in memory, beside the session: every request
authenticates it again (the authenticator's cache makes that a dictionary lookup), so revoking
the key ends its sessions within seconds. The key is never in the cookie or a URL. Sessions
live in the process that made them: with several API processes on one port
(POSTROOM_PROCESSES), a session holds only in the process that took the login.
"""

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

SESSION_SECONDS = 12 * 3600
# More logins than this keep only the newest: memory stays bounded whatever is posted.
MAX_SESSIONS = 1000


@dataclass(frozen=True, slots=True)
class Session:
    key: str  # the API key, held here only
    csrf: str  # the token the pages' forms carry
    expires_at: float


class Sessions:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._sessions: dict[str, Session] = {}
        # The forms' token when nobody logs in (POSTROOM_INSECURE_NO_AUTH).
        self.anonymous_csrf = secrets.token_urlsafe(32)

    def open(self, key: str) -> tuple[str, Session]:
        """A new session for `key`: its id (for the cookie) and the session."""
        self._expire()
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        session_id = secrets.token_urlsafe(32)
        session = Session(key, secrets.token_urlsafe(32), self._monotonic() + SESSION_SECONDS)
        self._sessions[session_id] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None (unknown, expired or absent)."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.expires_at <= self._monotonic():
            del self._sessions[session_id]
            return None
        return session

    def close(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def _expire(self) -> None:
        now = self._monotonic()
        for session_id in [s for s, v in self._sessions.items() if v.expires_at <= now]:
            del self._sessions[session_id]


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so the token cannot be guessed a character at a time; a
    caller without a token (a Bearer key: no forms) matches nothing."""
    if given is None or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
