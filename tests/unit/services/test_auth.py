"""The Authenticator (services/auth.py): expiry honoured to the moment despite the key cache,
and `scoped` refusing a key without the one scope an intake needs."""

from postroom.domain.keys import ADMIN, READ, SEND, token_hash
from postroom.services.auth import Authenticator, scoped
from postroom.storage.memory import memory_storage
from tests.conftest import ManualClock

TOKEN = "pr_" + "a" * 43
HEADER = f"Bearer {TOKEN}"


class Monotonic:
    """A monotonic clock that stands still unless moved: the key cache never refreshes alone."""

    def __init__(self) -> None:
        self.at = 0.0

    def __call__(self) -> float:
        return self.at


async def _authenticator(
    clock: ManualClock, scopes: frozenset[str], expires_at: float | None
) -> Authenticator:
    storage = memory_storage(clock)
    await storage.keys.create_key(
        "k1", "app", token_hash(TOKEN), TOKEN[:13], scopes=scopes, expires_at=expires_at
    )
    return Authenticator(storage.keys, clock, Monotonic())


async def test_an_expired_key_is_refused_at_its_expiry_though_cached(clock: ManualClock) -> None:
    """A key accepted a moment before its expiry is refused from the expiry on, while the cache
    (which is not refreshed here at all) still holds it."""
    authenticator = await _authenticator(clock, frozenset({SEND}), clock.now() + 10)
    clock.advance(9.999)
    key = await authenticator.authenticate(HEADER)
    assert key is not None
    assert key.scopes == {SEND}
    clock.advance(0.001)
    assert await authenticator.authenticate(HEADER) is None


async def test_a_key_without_expiry_keeps_working(clock: ManualClock) -> None:
    """No expiry: accepted whatever the time."""
    authenticator = await _authenticator(clock, frozenset({READ}), None)
    clock.advance(10 * 365 * 86400)
    assert await authenticator.authenticate(HEADER) is not None


async def test_scoped_refuses_a_key_without_the_scope_like_a_wrong_one(
    clock: ManualClock,
) -> None:
    """`scoped(..., send)` gives back a send key (or an admin one) and None for a read key."""
    for scopes, accepted in [({SEND}, True), ({ADMIN}, True), ({READ}, False)]:
        authenticator = await _authenticator(clock, frozenset(scopes), None)
        check = scoped(authenticator.authenticate, SEND)
        assert check is not None
        assert (await check(HEADER) is not None) is accepted
        assert await check("Bearer pr_wrong") is None
    assert scoped(None, SEND) is None
