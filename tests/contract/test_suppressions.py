"""The SuppressionStore port (ports/suppressions.py), the same for every store engine."""

import pytest

from postroom.domain.suppression import ALL_SCOPES, Reason
from postroom.ports.storage import Storage
from postroom.ports.suppressions import SuppressionRecord, SuppressionStore
from tests.conftest import ManualClock

WEEK = 7 * 24 * 3600.0


@pytest.fixture
def suppressions(store: Storage) -> SuppressionStore:
    assert store.suppressions is not None
    return store.suppressions


def entry(
    clock: ManualClock,
    key: str = "k1",
    reason: Reason = Reason.HARD_BOUNCE,
    *,
    scope: str = ALL_SCOPES,
    tenant: str = "acme",
    expires_in: float | None = None,
) -> SuppressionRecord:
    now = clock.now()
    return SuppressionRecord(
        tenant,
        key,
        f"{key}@example.com",
        scope,
        reason,
        now,
        None if expires_in is None else now + expires_in,
        provider="mailgun",
        event="bounced",
        email_id="01900001-0000-7000-8000-000000000000",
    )


def soft(clock: ManualClock, key: str = "k1") -> SuppressionRecord:
    return entry(clock, key, Reason.REPEATED_SOFT_BOUNCE, expires_in=WEEK)


async def reasons(suppressions: SuppressionStore, key: str = "k1") -> list[str]:
    return [found.reason for found in await suppressions.find("acme", [key])]


async def test_an_entry_reads_back_as_stored(
    suppressions: SuppressionStore, clock: ManualClock
) -> None:
    """A stored entry is found by its key with every field as given."""
    stored = soft(clock)
    assert await suppressions.suppress([stored]) == 1
    assert await suppressions.find("acme", ["k1"]) == [stored]


async def test_a_hard_bounce_replaces_a_soft_bounce_entry(
    suppressions: SuppressionStore, clock: ManualClock
) -> None:
    """An entry that never expires replaces one that would."""
    await suppressions.suppress([soft(clock)])
    clock.advance(60)
    assert await suppressions.suppress([entry(clock, reason=Reason.COMPLAINT)]) == 1
    (found,) = await suppressions.find("acme", ["k1"])
    assert (found.reason, found.expires_at, found.created_at) == (
        Reason.COMPLAINT,
        None,
        clock.now(),
    )


async def test_a_soft_bounce_entry_does_not_replace_a_hard_one(
    suppressions: SuppressionStore, clock: ManualClock
) -> None:
    """An entry that expires leaves one that never does in place, as does another permanent
    one."""
    await suppressions.suppress([entry(clock)])
    clock.advance(60)
    assert await suppressions.suppress([soft(clock)]) == 0
    assert await suppressions.suppress([entry(clock, reason=Reason.MANUAL)]) == 0
    assert await reasons(suppressions) == [Reason.HARD_BOUNCE]


async def test_a_second_soft_bounce_entry_does_not_extend_the_first(
    suppressions: SuppressionStore, clock: ManualClock
) -> None:
    """While an expiring entry is live, another expiring one changes nothing."""
    first = soft(clock)
    await suppressions.suppress([first])
    clock.advance(WEEK - 1)
    assert await suppressions.suppress([soft(clock)]) == 0
    assert await suppressions.find("acme", ["k1"]) == [first]


async def test_an_expired_entry_is_replaced(
    suppressions: SuppressionStore, clock: ManualClock
) -> None:
    """An entry expired by the new one's creation is replaced, even by another expiring one."""
    await suppressions.suppress([soft(clock)])
    clock.advance(WEEK)
    again = soft(clock)
    assert await suppressions.suppress([again]) == 1
    assert await suppressions.find("acme", ["k1"]) == [again]


async def test_entries_for_one_address_in_one_call_apply_in_order(
    suppressions: SuppressionStore, clock: ManualClock
) -> None:
    """A batch naming one address twice applies its entries one after the other."""
    assert await suppressions.suppress([soft(clock), entry(clock), soft(clock)]) == 2
    assert await reasons(suppressions) == [Reason.HARD_BOUNCE]


async def test_find_returns_every_scope_expired_included(
    suppressions: SuppressionStore, clock: ManualClock
) -> None:
    """Find gives every scope of the keys asked for, expired entries too, and nothing else."""
    await suppressions.suppress(
        [
            entry(clock, "k1"),
            entry(clock, "k1", Reason.UNSUBSCRIBE, scope="news"),
            entry(clock, "k2", Reason.REPEATED_SOFT_BOUNCE, expires_in=1),
            entry(clock, "k3"),
        ]
    )
    clock.advance(10)
    found = await suppressions.find("acme", ["k2", "k1", "k9", "k1"])
    assert [(e.key, e.scope) for e in found] == [("k1", ALL_SCOPES), ("k1", "news"), ("k2", "*")]
    assert await suppressions.find("acme", []) == []


async def test_remove_one_scope_or_all(suppressions: SuppressionStore, clock: ManualClock) -> None:
    """Remove deletes one scope of an address, or every scope, and says how many."""
    await suppressions.suppress(
        [entry(clock, scope=scope) for scope in (ALL_SCOPES, "news", "billing")]
    )
    assert await suppressions.remove("acme", "k1", "news") == 1
    assert await suppressions.remove("acme", "k1", "news") == 0
    assert [e.scope for e in await suppressions.find("acme", ["k1"])] == ["*", "billing"]
    assert await suppressions.remove("acme", "k1") == 2
    assert await suppressions.find("acme", ["k1"]) == []
    assert await suppressions.remove("acme", "k1") == 0


async def test_paging_visits_every_entry_once(
    suppressions: SuppressionStore, clock: ManualClock
) -> None:
    """Following the cursors visits every entry of the tenant once, of one reason when asked,
    and the last page has no cursor."""
    await suppressions.suppress(
        [
            entry(clock, f"k{n:02d}", reason, scope=scope)
            for n in range(10)
            for reason, scope in ((Reason.HARD_BOUNCE, ALL_SCOPES), (Reason.UNSUBSCRIBE, "news"))
        ]
    )
    for reason, expected in ((None, 20), (Reason.UNSUBSCRIBE, 10)):
        seen: list[tuple[str, str]] = []
        cursor: str | None = ""
        pages = 0
        while cursor is not None:
            page, cursor = await suppressions.page("acme", reason, cursor, 7)
            seen.extend((e.key, e.scope) for e in page)
            pages += 1
            assert all(reason is None or e.reason == reason for e in page)
        assert len(seen) == len(set(seen)) == expected
        assert pages == -(-expected // 7)
    assert await suppressions.page("acme", Reason.COMPLAINT, "", 7) == ([], None)


async def test_an_entry_replaced_while_paging_keeps_its_place(
    suppressions: SuppressionStore, clock: ManualClock
) -> None:
    """An entry replaced between two pages is neither seen twice nor missed."""
    await suppressions.suppress([soft(clock, f"k{n}") for n in range(4)])
    first, cursor = await suppressions.page("acme", None, "", 2)
    clock.advance(60)
    await suppressions.suppress([entry(clock, key) for key in ("k0", "k3")])
    assert cursor is not None
    second, last = await suppressions.page("acme", None, cursor, 2)
    assert [e.key for e in first + second] == ["k0", "k1", "k2", "k3"]
    assert last is None


async def test_a_cursor_no_store_gave_is_refused(suppressions: SuppressionStore) -> None:
    """A made-up cursor raises ValueError instead of paging from somewhere."""
    with pytest.raises(ValueError, match="cursor"):
        await suppressions.page("acme", None, "not a cursor", 10)


async def test_tenants_are_isolated(suppressions: SuppressionStore, clock: ManualClock) -> None:
    """One tenant's entries are never found, paged or removed through another."""
    await suppressions.suppress([entry(clock, tenant="acme"), entry(clock, tenant="globex")])
    assert [e.tenant for e in await suppressions.find("acme", ["k1"])] == ["acme"]
    assert await suppressions.remove("globex", "k1") == 1
    assert [e.tenant for e in (await suppressions.page("acme", None, "", 10))[0]] == ["acme"]
    assert await suppressions.find("globex", ["k1"]) == []
    assert await suppressions.find("initech", ["k1"]) == []


async def test_every_bundle_carries_the_suppression_list(
    storage: Storage, clock: ManualClock
) -> None:
    """Every engine's bundle, SQS's included (the store's), stores and finds entries."""
    assert storage.suppressions is not None
    assert await storage.suppressions.suppress([entry(clock)]) == 1
    assert [e.key for e in await storage.suppressions.find("acme", ["k1"])] == ["k1"]
