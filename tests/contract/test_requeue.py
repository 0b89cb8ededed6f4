"""The Requeue port (ports/requeue.py), on every queue kept apart from the store (SQS)."""

from postroom.ports.storage import Storage
from tests.conftest import ManualClock
from tests.contract.test_queue import VISIBILITY, new


async def test_requeue_sends_waiting_emails_again(queue_apart: Storage, clock: ManualClock) -> None:
    """An email whose message was taken and never settled comes back through requeue, page by
    page in id order."""
    storage = queue_apart
    assert storage.requeue is not None
    for n in (1, 2):
        await storage.queue.put(new(clock, n))
    assert len(await storage.queue.lease(10, VISIBILITY)) == 2  # then the worker dies
    clock.advance(VISIBILITY + 1)
    assert await storage.requeue.requeue("", 1) == (1, new(clock, 1).id)
    assert await storage.requeue.requeue(new(clock, 1).id, 1) == (1, new(clock, 2).id)
    assert await storage.requeue.requeue(new(clock, 2).id, 1) == (0, None)
    again = await storage.queue.lease(10, VISIBILITY)
    assert sorted(lease.id for lease in again) == [new(clock, 1).id, new(clock, 2).id]


async def test_enqueue_sends_a_message_due_now(queue_apart: Storage, clock: ManualClock) -> None:
    """An email made leasable in the store alone is leased once enqueue sent its message."""
    storage = queue_apart
    assert storage.requeue is not None
    assert storage.claims is not None
    await storage.queue.put(new(clock, 1, delay=3600))
    clock.advance(3600)
    [(email_id, _)] = await storage.claims.waiting("", 10)
    await storage.requeue.enqueue([email_id])
    leases = await storage.queue.lease(10, VISIBILITY)
    assert email_id in {lease.id for lease in leases}
