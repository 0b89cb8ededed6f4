"""The EmailStore port (ports/emails.py), the same for every engine: status, cancel and
count_since are also exercised in test_queue.py; here the quota count, the lookup by the
id a provider gave an email and the content read for matching provider events."""

from postroom.domain.states import State
from postroom.ports.emails import CancelOutcome
from postroom.ports.queue import Event, NewEmail, PutOutcome
from postroom.ports.storage import Storage
from tests.conftest import ManualClock
from tests.contract.test_attempts import attempt
from tests.contract.test_queue import VISIBILITY, new


async def test_count_since_counts_one_owner_from_a_time(
    storage: Storage, clock: ManualClock
) -> None:
    """Each key's emails are counted from the given time on; other keys' are not."""
    for n, owner in enumerate(("k1", "k1", "k2")):
        email = new(clock, n)
        await storage.queue.put(NewEmail(email.id, b"x", clock.now(), owner=owner))
        clock.advance(10)
    emails = storage.emails
    assert await emails.count_since("k1", 0.0) == 2
    assert await emails.count_since("k1", clock.now() - 25) == 1  # the second only
    assert await emails.count_since("k3", 0.0) == 0


async def test_find_by_provider_id_after_a_failover(storage: Storage, clock: ManualClock) -> None:
    """The email a provider accepted is found by (provider, its id); a failed call's provider,
    another provider with the same id, an unknown id and '' find nothing."""
    await storage.queue.put(new(clock, 1))
    await storage.queue.put(new(clock, 2))
    first, second = await storage.queue.lease(2, VISIBILITY)
    down = attempt(clock, "mailgun", "down", "http_503")
    sent = Event(clock.now(), State.SENT, "sendgrid", "sg-1", "sent", "http_202")
    assert await storage.queue.ack(first, sent, [down])
    other = Event(clock.now(), State.SENT, "mailgun", "mg-9", "sent", "http_200")
    assert await storage.queue.ack(second, other)
    emails = storage.emails
    assert await emails.find_by_provider_id("sendgrid", "sg-1") == first.id
    assert await emails.find_by_provider_id("mailgun", "mg-9") == second.id
    assert await emails.find_by_provider_id("mailgun", "sg-1") is None
    assert await emails.find_by_provider_id("sendgrid", "sg-2") is None
    assert await emails.find_by_provider_id("mailgun", "") is None


async def test_a_stale_settle_records_no_attempt(storage: Storage, clock: ManualClock) -> None:
    """A settle with a lost lease writes nothing, so its provider id finds no email."""
    await storage.queue.put(new(clock, 1))
    (stale,) = await storage.queue.lease(1, VISIBILITY)
    clock.advance(VISIBILITY + 1)
    (fresh,) = await storage.queue.lease(1, VISIBILITY)
    sent = Event(clock.now(), State.SENT, "ses", "ses-1", "sent", "http_200")
    assert not await storage.queue.ack(stale, sent)
    assert await storage.emails.find_by_provider_id("ses", "ses-1") is None
    assert await storage.queue.ack(fresh, sent)
    assert await storage.emails.find_by_provider_id("ses", "ses-1") == fresh.id


async def test_put_then_status(storage: Storage, clock: ManualClock) -> None:
    """A stored email reads back as queued with one event."""
    result = await storage.queue.put(new(clock, 1))
    assert (result.outcome, result.state) == (PutOutcome.CREATED, State.QUEUED)
    status = await storage.emails.status(result.id)
    assert status is not None
    assert status.state is State.QUEUED
    assert [e.state for e in status.events] == [State.QUEUED]
    assert status.events[0].at == clock.now()


async def test_unknown_id_has_no_status(storage: Storage) -> None:
    """Status of an id never stored is None."""
    assert await storage.emails.status("0190ffff-0000-7000-8000-000000000000") is None


async def test_cancel(storage: Storage, clock: ManualClock) -> None:
    """Waiting emails cancel (idempotently); taken ones are too late; unknown ones are not found."""
    waiting = await storage.queue.put(new(clock, 1, delay=600))
    taken = await storage.queue.put(new(clock, 2))
    (lease,) = await storage.queue.lease(10, VISIBILITY)
    assert lease.id == taken.id
    assert await storage.emails.cancel(waiting.id) == (CancelOutcome.CANCELLED, State.CANCELLED)
    assert await storage.emails.cancel(waiting.id) == (CancelOutcome.CANCELLED, State.CANCELLED)
    assert await storage.emails.cancel(taken.id) == (CancelOutcome.TOO_LATE, State.SENDING)
    assert await storage.emails.cancel("0190ffff-0000-7000-8000-000000000000") == (
        CancelOutcome.NOT_FOUND,
        None,
    )
    clock.advance(601)
    assert [lease.id for lease in await storage.queue.lease(10, VISIBILITY)] == [taken.id]


async def test_content_is_the_owner_and_payload(storage: Storage, clock: ManualClock) -> None:
    """Content gives the email's owner and stored payload, an empty payload once retention
    purged it, and None for an unknown id."""
    email = new(clock, 1)
    await storage.queue.put(NewEmail(email.id, b"sealed", clock.now(), owner="k1"))
    assert await storage.emails.content(email.id) == ("k1", b"sealed")
    (lease,) = await storage.queue.lease(1, VISIBILITY)
    assert await storage.queue.ack(lease, Event(clock.now(), State.SENT, "ses", "ses-1"))
    clock.advance(1)
    assert await storage.sealed.purge_content(clock.now()) == 1
    assert await storage.emails.content(email.id) == ("k1", b"")
    assert await storage.emails.content("0190ffff-0000-7000-8000-000000000000") is None
