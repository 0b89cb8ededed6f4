"""EmailStore.page (ports/emails.py), the same for every engine: a tenant's emails newest
first, filtered by state, tag, creation time and recipient key, paged by position; the tenant,
tags and recipient keys written by every kind of put; retention drops the recipient keys."""

import hashlib

from postroom.domain.states import State
from postroom.ports.emails import EmailFilter, EmailSummary, Position
from postroom.ports.queue import Event, NewEmail
from postroom.ports.storage import Storage
from tests.conftest import ManualClock
from tests.contract.test_queue import VISIBILITY

ANY = EmailFilter()
# Recipient keys shaped as intake makes them (services/addresses.py: hex HMAC-SHA256), which
# an engine may store in a compact form of its own.
KA, KB, KC = (hashlib.sha256(name).hexdigest() for name in (b"a", b"b", b"c"))


def email(
    clock: ManualClock,
    n: int,
    tenant: str = "acme",
    tags: tuple[str, ...] = (),
    keys: tuple[str, ...] = (),
    key: str | None = None,
) -> NewEmail:
    return NewEmail(
        f"0190{n:04d}-0000-7000-8000-000000000000",
        f"payload-{n}".encode(),
        clock.now(),
        idempotency_key=key,
        fingerprint=b"f" if key else b"",
        owner="k1",
        tenant=tenant,
        tags=tags,
        recipient_keys=keys,
    )


def ids(found: list[EmailSummary]) -> list[str]:
    return [e.id[:8] for e in found]


async def test_a_tenants_emails_newest_first_with_their_tags(
    storage: Storage, clock: ManualClock
) -> None:
    """Every engine, SQS's store included: a put's tenant and tags read back, newest first,
    another tenant's emails never."""
    for n, tenant in enumerate(("acme", "other", "acme"), 1):
        await storage.queue.put(email(clock, n, tenant, tags=(f"t{n}", "all")))
        clock.advance(1)
    found = await storage.emails.page("acme", ANY, None, 10)
    assert ids(found) == ["01900003", "01900001"]
    newest = found[0]
    assert (newest.state, newest.tags, newest.provider) == (State.QUEUED, ("t3", "all"), "")
    assert newest.created_at == newest.send_at == clock.now() - 1
    assert ids(await storage.emails.page("other", ANY, None, 10)) == ["01900002"]
    assert await storage.emails.page("nobody", ANY, None, 10) == []


async def test_pages_follow_each_other_without_repeats(store: Storage, clock: ManualClock) -> None:
    """From the position of a page's last email the next page starts, also among emails
    created at the same moment (ordered by id)."""
    for n in range(1, 8):
        await store.queue.put(email(clock, n))
        if n % 3 == 0:
            clock.advance(1)  # 1-3 share a time, 4-6 another
    seen: list[str] = []
    after: Position | None = None
    while True:
        page = await store.emails.page("acme", ANY, after, 2)
        if not page:
            break
        seen += ids(page)
        after = (page[-1].created_at, page[-1].id)
    assert seen == [f"0190000{n}" for n in range(7, 0, -1)]


async def test_filters_by_state_tag_and_time(store: Storage, clock: ManualClock) -> None:
    """state, tag, after (inclusive) and before (exclusive) narrow the page, together too."""
    start = clock.now()
    await store.queue.put(email(clock, 1, tags=("invoice",)))
    clock.advance(10)
    await store.queue.put(email(clock, 2, tags=("welcome",)))
    clock.advance(10)
    await store.queue.put(email(clock, 3, tags=("invoice", "eu")))
    (lease,) = await store.queue.lease(1, VISIBILITY)
    sent = Event(clock.now(), State.SENT, "mailgun", "mg-1", "sent", "http_200")
    assert await store.queue.ack(lease, sent)

    async def page(**filters: object) -> list[str]:
        return ids(await store.emails.page("acme", EmailFilter(**filters), None, 10))  # type: ignore[arg-type]

    assert await page(tag="invoice") == ["01900003", "01900001"]
    assert await page(tag="eu") == ["01900003"]
    assert await page(tag="inv") == []
    assert await page(state=State.SENT) == ["01900001"]
    assert await page(state=State.QUEUED) == ["01900003", "01900002"]
    assert await page(after=start + 10) == ["01900003", "01900002"]
    assert await page(before=start + 10) == ["01900001"]
    assert await page(after=start + 5, before=start + 15, tag="welcome") == ["01900002"]
    (first,) = await store.emails.page("acme", EmailFilter(state=State.SENT), None, 10)
    assert first.provider == "mailgun"


async def test_filters_by_recipient_key_across_puts(store: Storage, clock: ManualClock) -> None:
    """A recipient key finds the tenant's emails with it, newest first, whether put alone,
    with an idempotency key or in a batch; with the other filters and by position too."""
    await store.queue.put(email(clock, 1, keys=(KA, KB)))
    clock.advance(1)
    await store.queue.put(email(clock, 2, keys=(KB,), key="idem-2"))
    clock.advance(1)
    await store.queue.put_many(
        [
            email(clock, 3, keys=(KA,), tags=("x",)),
            email(clock, 4, keys=(KB,), key="idem-4"),
            email(clock, 5, "other", keys=(KA,)),
        ]
    )
    emails = store.emails
    assert ids(await emails.page("acme", EmailFilter(recipient_key=KA), None, 10)) == [
        "01900003",
        "01900001",
    ]
    by_b = await emails.page("acme", EmailFilter(recipient_key=KB), None, 10)
    assert ids(by_b) == ["01900004", "01900002", "01900001"]
    after = (by_b[0].created_at, by_b[0].id)
    assert ids(await emails.page("acme", EmailFilter(recipient_key=KB), after, 1)) == ["01900002"]
    tagged = EmailFilter(recipient_key=KA, tag="x")
    assert ids(await emails.page("acme", tagged, None, 10)) == ["01900003"]
    assert ids(await emails.page("other", EmailFilter(recipient_key=KA), None, 10)) == ["01900005"]
    assert await emails.page("acme", EmailFilter(recipient_key=KC), None, 10) == []


async def test_a_repeated_idempotency_key_adds_no_recipient(
    store: Storage, clock: ManualClock
) -> None:
    """A repeat of a put with a key stores nothing: the first email is found once."""
    await store.queue.put(email(clock, 1, keys=(KA,), key="idem"))
    await store.queue.put(email(clock, 2, keys=(KA,), key="idem"))
    found = await store.emails.page("acme", EmailFilter(recipient_key=KA), None, 10)
    assert ids(found) == ["01900001"]


async def test_retention_drops_the_recipient_keys_with_the_content(
    store: Storage, clock: ManualClock
) -> None:
    """A purged email is still listed, but no longer found by its recipients' keys."""
    await store.queue.put(email(clock, 1, keys=(KA,), tags=("t",)))
    await store.queue.put(email(clock, 2, keys=(KA,)))
    (lease, _) = await store.queue.lease(2, VISIBILITY)
    sent = Event(clock.now(), State.SENT, "ses", "ses-1", "sent", "http_200")
    assert await store.queue.ack(lease, sent)
    clock.advance(100)
    assert await store.sealed.purge_content(before=clock.now() - 10) == 1
    by_key = await store.emails.page("acme", EmailFilter(recipient_key=KA), None, 10)
    assert ids(by_key) == ["01900002"]
    listed = await store.emails.page("acme", ANY, None, 10)
    assert ids(listed) == ["01900002", "01900001"]
    assert listed[1].tags == ("t",)
