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
