"""The Queue port (ports/queue.py), the same for every engine."""

import asyncio

from postroom.domain.states import State
from postroom.ports.queue import Event, NewEmail, PutOutcome
from postroom.ports.storage import Storage
from tests.conftest import ManualClock

VISIBILITY = 60.0


def new(
    clock: ManualClock, n: int, *, delay: float = 0.0, key: str | None = None, fp: bytes = b"a"
) -> NewEmail:
    email_id = f"0190{n:04d}-0000-7000-8000-000000000000"
    return NewEmail(
        email_id,
        f"payload-{n}".encode(),
        not_before=clock.now() + delay,
        scheduled=delay > 0,
        idempotency_key=key,
        fingerprint=fp if key else b"",
    )


async def test_lease_oldest_first_up_to_limit(storage: Storage, clock: ManualClock) -> None:
    """Lease hands out ready emails oldest first, no more than asked."""
    for n in range(5):
        await storage.queue.put(new(clock, n))
        clock.advance(1)
    leases = await storage.queue.lease(3, VISIBILITY)
    assert [lease.payload for lease in leases] == [b"payload-0", b"payload-1", b"payload-2"]
    assert all(lease.attempt == 1 for lease in leases)
    assert [lease.payload for lease in await storage.queue.lease(10, VISIBILITY)] == [
        b"payload-3",
        b"payload-4",
    ]


async def test_leased_email_is_hidden_then_comes_back(storage: Storage, clock: ManualClock) -> None:
    """A lease not settled within the visibility timeout comes back, counted as a new attempt."""
    await storage.queue.put(new(clock, 1))
    first = await storage.queue.lease(10, VISIBILITY)
    assert len(first) == 1
    assert await storage.queue.lease(10, VISIBILITY) == []
    clock.advance(VISIBILITY + 1)
    again = await storage.queue.lease(10, VISIBILITY)
    assert [lease.id for lease in again] == [first[0].id]
    assert again[0].attempt == 2
    # The first holder lost it: settling with the stale lease does nothing.
    assert not await storage.queue.ack(first[0], Event(clock.now(), State.SENT, "x"))
    assert await storage.queue.ack(again[0], Event(clock.now(), State.SENT, "x"))


async def test_ack_removes_for_good(storage: Storage, clock: ManualClock) -> None:
    """An acked email is sent and is never leased again."""
    await storage.queue.put(new(clock, 1))
    (lease,) = await storage.queue.lease(1, VISIBILITY)
    assert await storage.queue.ack(lease, Event(clock.now(), State.SENT, "mailgun", "mg-1"))
    clock.advance(VISIBILITY * 10)
    assert await storage.queue.lease(10, VISIBILITY) == []
    status = await storage.emails.status(lease.id)
    assert status is not None
    assert status.state is State.SENT
    assert [(e.state, e.provider) for e in status.events][-1] == (State.SENT, "mailgun")


async def test_scheduled_email_is_invisible_until_its_time(
    storage: Storage, clock: ManualClock
) -> None:
    """An email with a future not-before time is scheduled and not leased early."""
    result = await storage.queue.put(new(clock, 1, delay=300))
    assert result.state is State.SCHEDULED
    assert await storage.queue.lease(10, VISIBILITY) == []
    clock.advance(299)
    assert await storage.queue.lease(10, VISIBILITY) == []
    clock.advance(1)
    assert len(await storage.queue.lease(10, VISIBILITY)) == 1


async def test_retry_hides_until_the_given_time(storage: Storage, clock: ManualClock) -> None:
    """A retried email is retrying, hidden until its time, then leased as the next attempt."""
    await storage.queue.put(new(clock, 1))
    (lease,) = await storage.queue.lease(1, VISIBILITY)
    assert await storage.queue.retry(
        lease, clock.now() + 120, Event(clock.now(), State.RETRYING, "", "down")
    )
    status = await storage.emails.status(lease.id)
    assert status is not None
    assert status.state is State.RETRYING
    clock.advance(119)
    assert await storage.queue.lease(1, VISIBILITY) == []
    clock.advance(1)
    (again,) = await storage.queue.lease(1, VISIBILITY)
    assert again.attempt == 2


async def test_dead_letter(storage: Storage, clock: ManualClock) -> None:
    """A dead-lettered email is failed, counted as dead and never leased again."""
    await storage.queue.put(new(clock, 1))
    (lease,) = await storage.queue.lease(1, VISIBILITY)
    assert await storage.queue.dead_letter(
        lease, Event(clock.now(), State.FAILED, "sendgrid", "http_400")
    )
    clock.advance(VISIBILITY * 10)
    assert await storage.queue.lease(10, VISIBILITY) == []
    stats = await storage.queue.stats()
    assert stats.dead == 1
    status = await storage.emails.status(lease.id)
    assert status is not None
    assert (status.state, status.events[-1].reason) == (State.FAILED, "http_400")


async def test_extend_keeps_the_lease(storage: Storage, clock: ManualClock) -> None:
    """Extending a lease keeps the email hidden past its first timeout."""
    await storage.queue.put(new(clock, 1))
    (lease,) = await storage.queue.lease(1, VISIBILITY)
    clock.advance(VISIBILITY - 1)
    assert await storage.queue.extend(lease, VISIBILITY)
    clock.advance(VISIBILITY - 1)
    assert await storage.queue.lease(1, VISIBILITY) == []
    assert await storage.queue.ack(lease, Event(clock.now(), State.SENT, "x"))


async def test_extend_all_keeps_held_leases_and_names_lost_ones(
    storage: Storage, clock: ManualClock
) -> None:
    """One batched extend keeps every held lease hidden and answers False for a lost one."""
    for n in range(3):
        await storage.queue.put(new(clock, n))
    leases = await storage.queue.lease(3, VISIBILITY)
    assert await storage.queue.ack(leases[1], Event(clock.now(), State.SENT, "x"))
    clock.advance(VISIBILITY - 1)
    assert await storage.queue.extend_all(leases, VISIBILITY) == [True, False, True]
    clock.advance(VISIBILITY - 1)
    assert await storage.queue.lease(3, VISIBILITY) == []
    assert await storage.queue.extend_all([], VISIBILITY) == []
    clock.advance(2)
    again = await storage.queue.lease(3, VISIBILITY)
    assert sorted(lease.id for lease in again) == sorted([leases[0].id, leases[2].id])
    # The first holder lost them: its heartbeat says so.
    assert await storage.queue.extend_all([leases[0], leases[2]], VISIBILITY) == [False, False]


async def test_idempotency_key_returns_the_original(storage: Storage, clock: ManualClock) -> None:
    """The same key with the same content stores nothing new; other content is a conflict."""
    first = await storage.queue.put(new(clock, 1, key="k1", fp=b"same"))
    again = await storage.queue.put(new(clock, 2, key="k1", fp=b"same"))
    other = await storage.queue.put(new(clock, 3, key="k1", fp=b"other"))
    assert first.outcome is PutOutcome.CREATED
    assert (again.outcome, again.id) == (PutOutcome.DUPLICATE, first.id)
    assert (other.outcome, other.id) == (PutOutcome.CONFLICT, first.id)
    assert await storage.emails.status(new(clock, 2).id) is None
    assert len(await storage.queue.lease(10, VISIBILITY)) == 1


async def test_idempotency_key_expires_after_a_day(storage: Storage, clock: ManualClock) -> None:
    """After 24 hours the same key creates a new email."""
    await storage.queue.put(new(clock, 1, key="k1"))
    clock.advance(24 * 3600 + 1)
    later = await storage.queue.put(new(clock, 2, key="k1"))
    assert (later.outcome, later.id) == (PutOutcome.CREATED, new(clock, 2).id)


async def test_concurrent_puts_with_one_key_create_one_email(
    storage: Storage, clock: ManualClock
) -> None:
    """Twenty simultaneous requests with one key: one email, the rest duplicates of it."""
    results = await asyncio.gather(
        *(storage.queue.put(new(clock, n, key="race")) for n in range(20))
    )
    created = [r for r in results if r.outcome is PutOutcome.CREATED]
    assert len(created) == 1
    assert {r.id for r in results} == {created[0].id}
    assert len(await storage.queue.lease(100, VISIBILITY)) == 1


async def test_stats(storage: Storage, clock: ManualClock) -> None:
    """Stats count ready, scheduled, in-flight and dead emails and the oldest ready one's age."""
    await storage.queue.put(new(clock, 1))
    clock.advance(10)
    await storage.queue.put(new(clock, 2))
    await storage.queue.put(new(clock, 3, delay=500))
    await storage.queue.put(new(clock, 4))
    (lease,) = await storage.queue.lease(1, VISIBILITY)
    await storage.queue.dead_letter(lease, Event(clock.now(), State.FAILED, "", "x"))
    await storage.queue.lease(1, VISIBILITY)
    clock.advance(5)
    stats = await storage.queue.stats()
    assert (stats.ready, stats.scheduled, stats.in_flight, stats.dead) == (1, 1, 1, 1)
    assert stats.oldest_age == 5.0
