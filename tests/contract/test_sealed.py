"""The SealedContent port (ports/sealed.py), the same for every engine."""

from postroom.domain.states import State
from postroom.ports.queue import Event
from postroom.ports.storage import Storage
from postroom.services.redrive import redrive
from tests.conftest import ManualClock
from tests.contract.test_queue import VISIBILITY, new


def seal(stored: bytes, context: bytes) -> bytes | None:
    return None if stored.startswith(b"sealed:") else b"sealed:" + stored


def seal_text(text: str, context: bytes) -> str | None:
    return None if text.startswith("sealed:") else "sealed:" + text


async def test_sample_and_count(storage: Storage, clock: ManualClock) -> None:
    """Nothing stored: no sample and a count of 0; then the newest email's payload."""
    assert await storage.sealed.sample_payload() is None
    assert await storage.sealed.count_emails() == 0
    for n in (1, 3, 2):
        await storage.queue.put(new(clock, n))
    assert await storage.sealed.sample_payload() == (new(clock, 3).id, b"payload-3")
    assert await storage.sealed.count_emails() == 3


async def test_payloads_are_read_together_without_the_purged_or_unknown(
    storage: Storage, clock: ManualClock
) -> None:
    """Payloads by id in one read; an unknown email and one whose content was purged are left
    out, and asking for none reads nothing."""
    for n in range(3):
        await storage.queue.put(new(clock, n))
    ids = [new(clock, n).id for n in range(3)]
    leases = {lease.id: lease for lease in await storage.queue.lease(3, VISIBILITY)}
    await storage.queue.ack(leases[ids[0]], Event(clock.now(), State.SENT, "mailgun", "mg-1"))
    clock.advance(10)
    assert await storage.sealed.purge_content(before=clock.now()) == 1
    found = await storage.sealed.payloads([*ids, "0000-unknown"])
    assert found == {ids[1]: b"payload-1", ids[2]: b"payload-2"}
    assert await storage.sealed.payloads([]) == {}


async def test_reseal_pages_through_payloads_and_reasons(
    storage: Storage, clock: ManualClock
) -> None:
    """Pages rewrite payloads and event reasons in id order; a second pass changes nothing."""
    for n in range(3):
        await storage.queue.put(new(clock, n))
    (lease, *_) = await storage.queue.lease(1, VISIBILITY)
    await storage.queue.dead_letter(lease, Event(clock.now(), State.FAILED, "x", "550 no"))
    sealed = storage.sealed
    assert await sealed.reseal_page("", 2, seal, seal_text) == (3, new(clock, 1).id)
    assert await sealed.reseal_page(new(clock, 1).id, 2, seal, seal_text) == (1, new(clock, 2).id)
    assert await sealed.reseal_page(new(clock, 2).id, 2, seal, seal_text) == (0, None)
    assert await sealed.reseal_page("", 10, seal, seal_text) == (0, new(clock, 2).id)
    assert await sealed.sample_payload() == (new(clock, 2).id, b"sealed:payload-2")
    status = await storage.emails.status(new(clock, 0).id)
    assert status is not None
    assert status.events[-1].reason == "sealed:550 no"


async def test_purge_forgets_expired_idempotency_keys(storage: Storage, clock: ManualClock) -> None:
    """After a purge past a day, an old idempotency key names nothing: a new email is made."""
    first = await storage.queue.put(new(clock, 1, key="k"))
    clock.advance(25 * 3600)
    assert await storage.sealed.purge_content(before=clock.now() - 3600) == 0
    again = await storage.queue.put(new(clock, 2, key="k"))
    assert again.id != first.id


async def test_purge_drops_content_of_ended_emails_only(
    storage: Storage, clock: ManualClock
) -> None:
    """Past retention, sent and failed emails lose content and reasons; ids and states stay."""
    for n in range(3):
        await storage.queue.put(new(clock, n))
    sent, failed, waiting = new(clock, 0).id, new(clock, 1).id, new(clock, 2).id
    leases = {lease.id: lease for lease in await storage.queue.lease(2, VISIBILITY)}
    await storage.queue.ack(leases[sent], Event(clock.now(), State.SENT, "mailgun", "mg-id-1"))
    await storage.queue.dead_letter(
        leases[failed], Event(clock.now(), State.FAILED, "mailgun", "550 ann@x")
    )
    clock.advance(10)
    assert await storage.sealed.purge_content(before=clock.now() - 60) == 0
    assert await storage.sealed.purge_content(before=clock.now()) == 2
    sent_status, failed_status = (
        await storage.emails.status(sent),
        await storage.emails.status(failed),
    )
    assert sent_status is not None
    assert failed_status is not None
    assert (sent_status.state, sent_status.events[-1].reason) == (State.SENT, "mg-id-1")
    assert (failed_status.state, failed_status.events[-1].reason) == (State.FAILED, "")
    assert await redrive(storage.dead, storage.requeue, [failed]) == []  # nothing left to send
    assert [lease.id for lease in await storage.queue.lease(10, VISIBILITY)] == [waiting]
