"""Who is calling: Bearer API keys checked against the key store.

Keys are looked up by the SHA-256 of the token, so the comparison an attacker could time is
between digests of their guess and ours, which tells them nothing about the token. The active
keys are cached for a couple of seconds: a revocation reaches every process within that time,
and a request costs one hash and one dictionary lookup. An expiry is compared with the clock at
every request, so a cached key stops working at its expiry to the moment, not up to a refresh
later.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from postroom.domain.errors import StorageUnavailableError
from postroom.domain.keys import allows, expired, token_hash
from postroom.ports.clock import Clock
from postroom.ports.keys import ApiKey, KeyStore

REFRESH_SECONDS = 2.0
# A key not in the cache may have just been created: look again, but not more often than this,
# so a stream of wrong keys costs at most a few reads a second.
MISS_RELOAD_SECONDS = 0.25
TOUCH_SECONDS = 60.0


Authenticate = Callable[[str | None], Awaitable[ApiKey | None]]


def scoped(authenticate: Authenticate | None, needed: str) -> Authenticate | None:
    """`authenticate` that also refuses (None, as for a wrong key) a key without the `needed`
    scope: for an intake that does one thing only, such as SMTP AUTH, which only ever sends."""
    if authenticate is None:
        return None
    check = authenticate

    async def with_scope(header: str | None) -> ApiKey | None:
        key = await check(header)
        return key if key is not None and allows(key.scopes, needed) else None

    return with_scope


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class Authenticator:
    def __init__(
        self, keys: KeyStore, clock: Clock, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._monotonic = monotonic
        self._cache: dict[str, ApiKey] | None = None
        self._loaded_at = float("-inf")
        self._refreshing = asyncio.Lock()
        self._used: dict[str, float] = {}
        self._touched_at = monotonic()
        self._touching: set[asyncio.Task[None]] = set()

    async def authenticate(self, header: str | None) -> ApiKey | None:
        """The key a request's Authorization header carries, or None (missing, wrong, revoked,
        expired). What the key may do (its scopes) is for the caller to check."""
        token = bearer_token(header)
        # Hash and look up even without a token, so every refusal takes the same path.
        digest = token_hash(token or "")
        key = (await self._current()).get(digest)
        if key is None and token is not None:
            key = (await self._current(MISS_RELOAD_SECONDS)).get(digest)
        if token is None or key is None or expired(key.expires_at, self._clock.now()):
            return None
        self.note_use(key)
        return key

    async def _current(self, max_age: float = REFRESH_SECONDS) -> dict[str, ApiKey]:
        if self._monotonic() - self._loaded_at < max_age and self._cache is not None:
            return self._cache
        async with self._refreshing:
            if self._monotonic() - self._loaded_at >= max_age or self._cache is None:
                await self._reload()
        assert self._cache is not None
        return self._cache

    async def _reload(self) -> None:
        try:
            self._cache = await self._keys.active_keys()
        except StorageUnavailableError:
            if self._cache is None:
                raise  # nothing to go on: the caller answers 503
            # Keep serving with the keys we had; try again at the next refresh.
        self._loaded_at = self._monotonic()

    def note_use(self, key: ApiKey) -> None:
        """Record that `key` was used now (its last-used time), in a write every TOUCH_SECONDS
        at most: a request it authenticated, or a page session made from it."""
        self._used[key.id] = self._clock.now()
        if self._monotonic() - self._touched_at < TOUCH_SECONDS:
            return
        used, self._used = self._used, {}
        self._touched_at = self._monotonic()
        task = asyncio.create_task(self._touch(used))
        self._touching.add(task)
        task.add_done_callback(self._touching.discard)

    async def _touch(self, used: dict[str, float]) -> None:
        with contextlib.suppress(StorageUnavailableError):
            await self._keys.touch_keys(used)

    async def flush(self) -> None:
        """Record pending last-used times (at shutdown)."""
        used, self._used = self._used, {}
        await self._touch(used)
