"""The KeyStore port (ports/keys.py), the same for every engine."""

from postroom.ports.storage import Storage
from tests.conftest import ManualClock


async def test_keys_round_trip(storage: Storage, clock: ManualClock) -> None:
    """Created keys are listed oldest first; a revoked one leaves the active set, stays listed,
    and keeps its first revocation time; touches record last use."""
    keys = storage.keys
    first = await keys.create_key("k1", "ci", "hash-1", "pr_aaaa")
    clock.advance(1)
    second = await keys.create_key("k2", "app", "hash-2", "pr_bbbb")
    assert (first.name, first.created_at) == ("ci", clock.now() - 1)
    await keys.touch_keys({"k1": clock.now() + 5})
    revoked = await keys.revoke_key("pr_aaaa")
    assert revoked is not None
    assert (revoked.id, revoked.revoked_at, revoked.last_used_at) == (
        "k1",
        clock.now(),
        clock.now() + 5,
    )
    clock.advance(1)
    again = await keys.revoke_key("k1")
    assert again is not None
    assert again.revoked_at == revoked.revoked_at
    assert await keys.revoke_key("pr_none") is None
    assert list(await keys.active_keys()) == ["hash-2"]
    assert (await keys.active_keys())["hash-2"].id == second.id
    assert [key.id for key in await keys.list_keys()] == ["k1", "k2"]


async def test_a_keys_tenant_is_stored(storage: Storage) -> None:
    """A key keeps the tenant it was made for, "default" unless told; listing, the active set
    and revoking all carry it."""
    keys = storage.keys
    made = await keys.create_key("k1", "ci", "hash-1", "pr_aaaa", tenant="acme")
    plain = await keys.create_key("k2", "app", "hash-2", "pr_bbbb")
    assert (made.tenant, plain.tenant) == ("acme", "default")
    assert [key.tenant for key in await keys.list_keys()] == ["acme", "default"]
    assert (await keys.active_keys())["hash-1"].tenant == "acme"
    revoked = await keys.revoke_key("k1")
    assert revoked is not None
    assert revoked.tenant == "acme"


async def test_a_keys_scopes_and_expiry_are_stored(storage: Storage, clock: ManualClock) -> None:
    """A key keeps the scopes and expiry it was made with (send and read, never expiring,
    unless told); listing, the active set (expired keys included) and revoking all carry them."""
    keys = storage.keys
    expires = clock.now() + 3600
    made = await keys.create_key(
        "k1",
        "ops",
        "hash-1",
        "pr_aaaa",
        scopes=frozenset({"admin", "webhooks"}),
        expires_at=expires,
    )
    plain = await keys.create_key("k2", "app", "hash-2", "pr_bbbb")
    assert (made.scopes, made.expires_at) == ({"admin", "webhooks"}, expires)
    assert (plain.scopes, plain.expires_at) == ({"send", "read"}, None)
    listed = await keys.list_keys()
    assert [(key.scopes, key.expires_at) for key in listed] == [
        ({"admin", "webhooks"}, expires),
        ({"send", "read"}, None),
    ]
    assert all(isinstance(key.scopes, frozenset) for key in listed)
    clock.advance(7200)  # past the expiry: still an active key; the Authenticator refuses it
    active = await keys.active_keys()
    assert (active["hash-1"].scopes, active["hash-1"].expires_at) == (
        {"admin", "webhooks"},
        expires,
    )
    assert active["hash-2"].scopes == {"send", "read"}
    revoked = await keys.revoke_key("k1")
    assert revoked is not None
    assert (revoked.scopes, revoked.expires_at) == ({"admin", "webhooks"}, expires)


async def test_a_key_may_have_no_scope(storage: Storage) -> None:
    """An empty set of scopes is stored as empty, not as the default."""
    await storage.keys.create_key("k1", "none", "hash-1", "pr_aaaa", scopes=frozenset())
    (key,) = await storage.keys.list_keys()
    assert key.scopes == frozenset()
