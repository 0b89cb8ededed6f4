"""Claims by id (ports/claims.py): the store's half of a queue kept apart from it, the same for
every engine that can be that store."""

from postroom.domain.states import State
from postroom.ports.queue import Event, NewEmail
from postroom.ports.storage import Storage
from tests.conftest import ManualClock

VISIBILITY = 60.0


def new(clock: ManualClock, n: int, *, delay: float = 0.0, key: str | None = None) -> NewEmail:
    return NewEmail(
        f"0190{n:04d}-0000-7000-8000-000000000000",
        f"payload-{n}".encode(),
        not_before=clock.now() + delay,
        scheduled=delay > 0,
        idempotency_key=key,
        fingerprint=b"f" if key else b"",
    )


async def test_claim_leases_due_ids_and_says_when_to_look_at_the_rest(
    store: Storage, clock: ManualClock
) -> None:
    """Due ids are leased as `lease` would; scheduled and held ones come with their time;
    unknown and sent ones are gone."""
    due, later, held, done = (new(clock, n, delay=600 if n == 2 else 0) for n in range(1, 5))
    for email in (due, later, held, done):
        await store.queue.put(email)
    [held_lease, done_lease] = (await store.claims.claim([held.id, done.id], VISIBILITY)).leases
    assert await store.queue.ack(done_lease, Event(clock.now(), State.SENT, "x"))
    unknown = "0190ffff-0000-7000-8000-000000000000"
    claimed = await store.claims.claim(
        [due.id, later.id, held.id, done.id, unknown, due.id], VISIBILITY
    )
    assert [(lease.id, lease.payload, lease.attempt) for lease in claimed.leases] == [
        (due.id, b"payload-1", 1)
    ]
    assert claimed.later == {later.id: later.not_before, held.id: held_lease.expires_at}
    assert sorted(claimed.gone) == sorted([done.id, unknown])
    status = await store.emails.status(due.id)
    assert status is not None
    assert status.state is State.SENDING


async def test_a_claimed_lease_settles_like_any_other(store: Storage, clock: ManualClock) -> None:
    """A claim's lease lapses, comes back to the next claim, and a stale one settles nothing."""
    email = new(clock, 1)
    await store.queue.put(email)
    [first] = (await store.claims.claim([email.id], VISIBILITY)).leases
    clock.advance(VISIBILITY + 1)
    [again] = (await store.claims.claim([email.id], VISIBILITY)).leases
    assert again.attempt == 2
    assert not await store.queue.ack(first, Event(clock.now(), State.SENT, "x"))
    assert await store.queue.ack(again, Event(clock.now(), State.SENT, "x"))


async def test_withdraw_forgets_the_email_and_its_key(store: Storage, clock: ManualClock) -> None:
    """A withdrawn email is unknown, and its idempotency key free for the client's retry."""
    email = new(clock, 1, key="k")
    await store.queue.put(email)
    await store.claims.withdraw(email.id)
    assert await store.emails.status(email.id) is None
    assert (await store.claims.claim([email.id], VISIBILITY)).gone == [email.id]
    retry = new(clock, 2, key="k")
    assert (await store.queue.put(retry)).id == retry.id


async def test_waiting_pages_through_emails_not_yet_final(
    store: Storage, clock: ManualClock
) -> None:
    """Waiting, scheduled and leased emails are listed in id order with their time; sent ones
    are not."""
    emails = [new(clock, n, delay=600 * max(0, n - 2)) for n in range(1, 5)]
    for email in emails:
        await store.queue.put(email)
    [lease] = (await store.claims.claim([emails[0].id], VISIBILITY)).leases
    [sent] = (await store.claims.claim([emails[1].id], VISIBILITY)).leases
    assert await store.queue.ack(sent, Event(clock.now(), State.SENT, "x"))
    first = await store.claims.waiting("", 2)
    assert first == [(emails[0].id, lease.expires_at), (emails[2].id, emails[2].not_before)]
    assert await store.claims.waiting(first[-1][0], 2) == [(emails[3].id, emails[3].not_before)]
