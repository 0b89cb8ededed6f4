"""The DeadLetters port (ports/dead.py), the same for every engine."""

from postroom.domain.states import State
from postroom.ports.queue import Event
from postroom.ports.storage import Storage
from postroom.services.redrive import redrive
from tests.conftest import ManualClock
from tests.contract.test_queue import VISIBILITY, new


async def test_redrive_of_ids_not_dead_changes_nothing(
    storage: Storage, clock: ManualClock
) -> None:
    """Only dead letters are redriven; an empty list and waiting emails give nothing."""
    await storage.queue.put(new(clock, 1))
    assert await storage.dead.dead(10) == []
    assert await storage.dead.redrive([]) == []
    assert await redrive(storage.dead, storage.requeue, [new(clock, 1).id]) == []
    (lease,) = await storage.queue.lease(1, VISIBILITY)
    assert lease.attempt == 1


async def test_a_dead_letter_without_attempts_names_no_provider(
    storage: Storage, clock: ManualClock
) -> None:
    """An email given up before any provider call (it did not decrypt) lists no provider."""
    await storage.queue.put(new(clock, 1))
    (lease,) = await storage.queue.lease(1, VISIBILITY)
    clock.advance(3)
    assert await storage.queue.dead_letter(lease, Event(clock.now(), State.FAILED, "", "x"))
    [dead] = await storage.dead.dead(10)
    assert (dead.id, dead.failed_at, dead.attempts, dead.provider, dead.error) == (
        lease.id,
        clock.now(),
        1,
        "",
        "",
    )


async def test_dead_letters_list_and_redrive(storage: Storage, clock: ManualClock) -> None:
    """Dead letters are listed in id order, and a redrive queues them again as new."""
    for n in range(3):
        await storage.queue.put(new(clock, n))
    for lease in await storage.queue.lease(3, VISIBILITY):
        await storage.queue.dead_letter(
            lease, Event(clock.now(), State.FAILED, "mailgun", "http_400")
        )
    dead = await storage.dead.dead(2)
    assert [d.id for d in dead] == [new(clock, 0).id, new(clock, 1).id]
    assert (dead[0].provider, dead[0].attempts) == ("mailgun", 1)
    assert [d.id for d in await storage.dead.dead(10, after=dead[-1].id)] == [new(clock, 2).id]
    done = await redrive(
        storage.dead,
        storage.requeue,
        [new(clock, 0).id, new(clock, 1).id, "0190ffff-0000-7000-8000-000000000000"],
    )
    assert done == [new(clock, 0).id, new(clock, 1).id]
    assert (await storage.queue.stats()).dead == 1
    again = await storage.queue.lease(10, VISIBILITY)
    assert sorted(lease.id for lease in again) == done
    assert all(lease.attempt == 1 for lease in again)
    status = await storage.emails.status(done[0])
    assert status is not None
    assert (status.events[-2].state, status.events[-2].reason) == (State.QUEUED, "redriven")
