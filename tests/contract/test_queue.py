"""The queue/store contract (ports/queue.py, ports/store.py), the same for every backend."""

import asyncio

from postroom.domain.states import State
from postroom.ports.backend import Backend
from postroom.ports.queue import Event, NewEmail, PutOutcome
from postroom.ports.store import CancelOutcome
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


async def test_put_then_status(backend: Backend, clock: ManualClock) -> None:
    """A stored email reads back as queued with one event."""
    result = await backend.put(new(clock, 1))
    assert (result.outcome, result.state) == (PutOutcome.CREATED, State.QUEUED)
    status = await backend.status(result.id)
    assert status is not None
    assert status.state is State.QUEUED
    assert [e.state for e in status.events] == [State.QUEUED]
    assert status.events[0].at == clock.now()


async def test_unknown_id_has_no_status(backend: Backend) -> None:
    """Status of an id never stored is None."""
    assert await backend.status("0190ffff-0000-7000-8000-000000000000") is None


async def test_lease_oldest_first_up_to_limit(backend: Backend, clock: ManualClock) -> None:
    """Lease hands out ready emails oldest first, no more than asked."""
    for n in range(5):
        await backend.put(new(clock, n))
        clock.advance(1)
    leases = await backend.lease(3, VISIBILITY)
    assert [lease.payload for lease in leases] == [b"payload-0", b"payload-1", b"payload-2"]
    assert all(lease.attempt == 1 for lease in leases)
    assert [lease.payload for lease in await backend.lease(10, VISIBILITY)] == [
        b"payload-3",
        b"payload-4",
    ]


async def test_leased_email_is_hidden_then_comes_back(backend: Backend, clock: ManualClock) -> None:
    """A lease not settled within the visibility timeout comes back, counted as a new attempt."""
    await backend.put(new(clock, 1))
    first = await backend.lease(10, VISIBILITY)
    assert len(first) == 1
    assert await backend.lease(10, VISIBILITY) == []
    clock.advance(VISIBILITY + 1)
    again = await backend.lease(10, VISIBILITY)
    assert [lease.id for lease in again] == [first[0].id]
    assert again[0].attempt == 2
    # The first holder lost it: settling with the stale lease does nothing.
    assert not await backend.ack(first[0], Event(clock.now(), State.SENT, "x"))
    assert await backend.ack(again[0], Event(clock.now(), State.SENT, "x"))


async def test_ack_removes_for_good(backend: Backend, clock: ManualClock) -> None:
    """An acked email is sent and is never leased again."""
    await backend.put(new(clock, 1))
    (lease,) = await backend.lease(1, VISIBILITY)
    assert await backend.ack(lease, Event(clock.now(), State.SENT, "mailgun", "mg-1"))
    clock.advance(VISIBILITY * 10)
    assert await backend.lease(10, VISIBILITY) == []
    status = await backend.status(lease.id)
    assert status is not None
    assert status.state is State.SENT
    assert [(e.state, e.provider) for e in status.events][-1] == (State.SENT, "mailgun")


async def test_scheduled_email_is_invisible_until_its_time(
    backend: Backend, clock: ManualClock
) -> None:
    """An email with a future not-before time is scheduled and not leased early."""
    result = await backend.put(new(clock, 1, delay=300))
    assert result.state is State.SCHEDULED
    assert await backend.lease(10, VISIBILITY) == []
    clock.advance(299)
    assert await backend.lease(10, VISIBILITY) == []
    clock.advance(1)
    assert len(await backend.lease(10, VISIBILITY)) == 1


async def test_retry_hides_until_the_given_time(backend: Backend, clock: ManualClock) -> None:
    """A retried email is retrying, hidden until its time, then leased as the next attempt."""
    await backend.put(new(clock, 1))
    (lease,) = await backend.lease(1, VISIBILITY)
    assert await backend.retry(
        lease, clock.now() + 120, Event(clock.now(), State.RETRYING, "", "down")
    )
    status = await backend.status(lease.id)
    assert status is not None
    assert status.state is State.RETRYING
    clock.advance(119)
    assert await backend.lease(1, VISIBILITY) == []
    clock.advance(1)
    (again,) = await backend.lease(1, VISIBILITY)
    assert again.attempt == 2


async def test_dead_letter(backend: Backend, clock: ManualClock) -> None:
    """A dead-lettered email is failed, counted as dead and never leased again."""
    await backend.put(new(clock, 1))
    (lease,) = await backend.lease(1, VISIBILITY)
    assert await backend.dead_letter(
        lease, Event(clock.now(), State.FAILED, "sendgrid", "http_400")
    )
    clock.advance(VISIBILITY * 10)
    assert await backend.lease(10, VISIBILITY) == []
    stats = await backend.stats()
    assert stats.dead == 1
    status = await backend.status(lease.id)
    assert status is not None
    assert (status.state, status.events[-1].reason) == (State.FAILED, "http_400")


async def test_extend_keeps_the_lease(backend: Backend, clock: ManualClock) -> None:
    """Extending a lease keeps the email hidden past its first timeout."""
    await backend.put(new(clock, 1))
    (lease,) = await backend.lease(1, VISIBILITY)
    clock.advance(VISIBILITY - 1)
    assert await backend.extend(lease, VISIBILITY)
    clock.advance(VISIBILITY - 1)
    assert await backend.lease(1, VISIBILITY) == []
    assert await backend.ack(lease, Event(clock.now(), State.SENT, "x"))


async def test_idempotency_key_returns_the_original(backend: Backend, clock: ManualClock) -> None:
    """The same key with the same content stores nothing new; other content is a conflict."""
    first = await backend.put(new(clock, 1, key="k1", fp=b"same"))
    again = await backend.put(new(clock, 2, key="k1", fp=b"same"))
    other = await backend.put(new(clock, 3, key="k1", fp=b"other"))
    assert first.outcome is PutOutcome.CREATED
    assert (again.outcome, again.id) == (PutOutcome.DUPLICATE, first.id)
    assert (other.outcome, other.id) == (PutOutcome.CONFLICT, first.id)
    assert await backend.status(new(clock, 2).id) is None
    assert len(await backend.lease(10, VISIBILITY)) == 1


async def test_idempotency_key_expires_after_a_day(backend: Backend, clock: ManualClock) -> None:
    """After 24 hours the same key creates a new email."""
    await backend.put(new(clock, 1, key="k1"))
    clock.advance(24 * 3600 + 1)
    later = await backend.put(new(clock, 2, key="k1"))
    assert (later.outcome, later.id) == (PutOutcome.CREATED, new(clock, 2).id)


async def test_concurrent_puts_with_one_key_create_one_email(
    backend: Backend, clock: ManualClock
) -> None:
    """Twenty simultaneous requests with one key: one email, the rest duplicates of it."""
    results = await asyncio.gather(*(backend.put(new(clock, n, key="race")) for n in range(20)))
    created = [r for r in results if r.outcome is PutOutcome.CREATED]
    assert len(created) == 1
    assert {r.id for r in results} == {created[0].id}
    assert len(await backend.lease(100, VISIBILITY)) == 1


async def test_cancel(backend: Backend, clock: ManualClock) -> None:
    """Waiting emails cancel (idempotently); taken ones are too late; unknown ones are not found."""
    waiting = await backend.put(new(clock, 1, delay=600))
    taken = await backend.put(new(clock, 2))
    (lease,) = await backend.lease(10, VISIBILITY)
    assert lease.id == taken.id
    assert await backend.cancel(waiting.id) == (CancelOutcome.CANCELLED, State.CANCELLED)
    assert await backend.cancel(waiting.id) == (CancelOutcome.CANCELLED, State.CANCELLED)
    assert await backend.cancel(taken.id) == (CancelOutcome.TOO_LATE, State.SENDING)
    assert await backend.cancel("0190ffff-0000-7000-8000-000000000000") == (
        CancelOutcome.NOT_FOUND,
        None,
    )
    clock.advance(601)
    assert [lease.id for lease in await backend.lease(10, VISIBILITY)] == [taken.id]


async def test_stats(backend: Backend, clock: ManualClock) -> None:
    """Stats count ready, scheduled, in-flight and dead emails and the oldest ready one's age."""
    await backend.put(new(clock, 1))
    clock.advance(10)
    await backend.put(new(clock, 2))
    await backend.put(new(clock, 3, delay=500))
    await backend.put(new(clock, 4))
    (lease,) = await backend.lease(1, VISIBILITY)
    await backend.dead_letter(lease, Event(clock.now(), State.FAILED, "", "x"))
    await backend.lease(1, VISIBILITY)
    clock.advance(5)
    stats = await backend.stats()
    assert (stats.ready, stats.scheduled, stats.in_flight, stats.dead) == (1, 1, 1, 1)
    assert stats.oldest_age == 5.0


async def test_ping(backend: Backend) -> None:
    """A working backend answers its ping."""
    await backend.ping()


async def test_dead_letters_list_and_redrive(backend: Backend, clock: ManualClock) -> None:
    """Dead letters are listed in id order, and a redrive queues them again as new."""
    for n in range(3):
        await backend.put(new(clock, n))
    for lease in await backend.lease(3, VISIBILITY):
        await backend.dead_letter(lease, Event(clock.now(), State.FAILED, "mailgun", "http_400"))
    dead = await backend.dead(2)
    assert [d.id for d in dead] == [new(clock, 0).id, new(clock, 1).id]
    assert (dead[0].provider, dead[0].attempts) == ("mailgun", 1)
    assert [d.id for d in await backend.dead(10, after=dead[-1].id)] == [new(clock, 2).id]
    done = await backend.redrive(
        [new(clock, 0).id, new(clock, 1).id, "0190ffff-0000-7000-8000-000000000000"]
    )
    assert done == [new(clock, 0).id, new(clock, 1).id]
    assert (await backend.stats()).dead == 1
    again = await backend.lease(10, VISIBILITY)
    assert sorted(lease.id for lease in again) == done
    assert all(lease.attempt == 1 for lease in again)
    status = await backend.status(done[0])
    assert status is not None
    assert (status.events[-2].state, status.events[-2].reason) == (State.QUEUED, "redriven")


async def test_purge_drops_content_of_ended_emails_only(
    backend: Backend, clock: ManualClock
) -> None:
    """Past retention, sent and failed emails lose content and reasons; ids and states stay."""
    for n in range(3):
        await backend.put(new(clock, n))
    sent, failed, waiting = new(clock, 0).id, new(clock, 1).id, new(clock, 2).id
    leases = {lease.id: lease for lease in await backend.lease(2, VISIBILITY)}
    await backend.ack(leases[sent], Event(clock.now(), State.SENT, "mailgun", "mg-id-1"))
    await backend.dead_letter(
        leases[failed], Event(clock.now(), State.FAILED, "mailgun", "550 ann@x")
    )
    clock.advance(10)
    assert await backend.purge_content(before=clock.now() - 60) == 0
    assert await backend.purge_content(before=clock.now()) == 2
    sent_status, failed_status = await backend.status(sent), await backend.status(failed)
    assert sent_status is not None
    assert failed_status is not None
    assert (sent_status.state, sent_status.events[-1].reason) == (State.SENT, "mg-id-1")
    assert (failed_status.state, failed_status.events[-1].reason) == (State.FAILED, "")
    assert await backend.redrive([failed]) == []  # nothing left to send
    assert [lease.id for lease in await backend.lease(10, VISIBILITY)] == [waiting]
