"""Queue.put_many (ports/queue.py), the same for every engine: a batch is `put` for each email,
in order, in one write."""

from postroom.domain.states import State
from postroom.ports.queue import PutOutcome
from postroom.ports.storage import Storage
from tests.conftest import ManualClock
from tests.contract.test_queue import VISIBILITY, new


async def test_a_batch_stores_every_email_in_order(storage: Storage, clock: ManualClock) -> None:
    """Each email is created and answered in the batch's order, and all of them can be leased."""
    emails = [new(clock, n) for n in range(25)]
    results = await storage.queue.put_many(emails)
    assert [r.id for r in results] == [e.id for e in emails]
    assert {r.outcome for r in results} == {PutOutcome.CREATED}
    leased = await storage.queue.lease(100, VISIBILITY)
    assert sorted(lease.payload for lease in leased) == sorted(e.payload for e in emails)


async def test_scheduled_emails_in_a_batch_wait(storage: Storage, clock: ManualClock) -> None:
    """A batch email with a later time is scheduled and not leased before it."""
    results = await storage.queue.put_many([new(clock, 1), new(clock, 2, delay=600)])
    assert [r.state for r in results] == [State.QUEUED, State.SCHEDULED]
    assert [lease.payload for lease in await storage.queue.lease(10, VISIBILITY)] == [b"payload-1"]


async def test_keys_in_a_batch_are_idempotent_each(storage: Storage, clock: ManualClock) -> None:
    """Keyed emails of a retried batch are the originals; a key reused with other content is a
    conflict; a key repeated inside one batch is a duplicate of its first use."""
    first = [new(clock, 1, key="b:0"), new(clock, 2, key="b:1"), new(clock, 3)]
    created = await storage.queue.put_many(first)
    assert [r.outcome for r in created] == [PutOutcome.CREATED] * 3
    again = [new(clock, 11, key="b:0"), new(clock, 12, key="b:1", fp=b"other")]
    repeated = await storage.queue.put_many(again)
    assert (repeated[0].outcome, repeated[0].id) == (PutOutcome.DUPLICATE, first[0].id)
    assert repeated[1].outcome is PutOutcome.CONFLICT
    inside = await storage.queue.put_many([new(clock, 21, key="c"), new(clock, 22, key="c")])
    assert [r.outcome for r in inside] == [PutOutcome.CREATED, PutOutcome.DUPLICATE]
    assert inside[1].id == inside[0].id
    leased = await storage.queue.lease(100, VISIBILITY)
    assert len(leased) == 4  # three from the first batch, one from the last


async def test_an_empty_batch_stores_nothing(storage: Storage) -> None:
    """No emails, no results, nothing to lease."""
    assert await storage.queue.put_many([]) == []
    assert await storage.queue.lease(10, VISIBILITY) == []
