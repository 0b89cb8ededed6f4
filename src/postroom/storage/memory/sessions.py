"""Browser sessions in this process only: for tests and `memory://` trials."""

from postroom.ports.keys import ApiKey
from postroom.ports.sessions import StoredSession
from postroom.storage.memory.state import MemoryState


class MemorySessionStore:
    def __init__(self, state: MemoryState) -> None:
        self._keys = state.api_keys  # by token hash, as the key store keeps them
        self._sessions: dict[str, StoredSession] = {}

    async def create_session(self, session: StoredSession) -> None:
        self._sessions[session.token_hash] = session

    async def get_session(self, token_hash: str, now: float) -> tuple[StoredSession, ApiKey] | None:
        session = self._sessions.get(token_hash)
        if session is None or session.expires_at <= now:
            return None
        key = next((k for k in self._keys.values() if k.id == session.key_id), None)
        if key is None or key.revoked_at is not None:
            return None
        return session, key

    async def delete_session(self, token_hash: str) -> None:
        self._sessions.pop(token_hash, None)

    async def purge_sessions(self, now: float) -> int:
        gone = [h for h, s in self._sessions.items() if s.expires_at <= now]
        for token_hash in gone:
            del self._sessions[token_hash]
        return len(gone)
