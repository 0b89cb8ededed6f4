"""The ActivityLog port (ports/activity.py), the same for every store engine."""

import pytest

from postroom.domain.events import EventType
from postroom.domain.states import State
from postroom.ports.activity import KINDS, ActivityLog
from postroom.ports.queue import Event
from postroom.ports.storage import Storage
from tests.conftest import ManualClock
from tests.contract.test_events import event
from tests.contract.test_queue import VISIBILITY, new

MINUTE = 60.0


@pytest.fixture
def activity(store: Storage) -> ActivityLog:
    assert store.activity is not None
    return store.activity


async def test_nothing_happened_counts_zero_everywhere(
    activity: ActivityLog, clock: ManualClock
) -> None:
    """An empty store gives every kind, each with one zero per bucket."""
    found = await activity.activity(clock.now() - 3 * MINUTE, 3, MINUTE)
    assert found.counts == {kind: [0, 0, 0] for kind in KINDS}
    assert (found.since, found.bucket_seconds) == (clock.now() - 3 * MINUTE, MINUTE)


async def test_emails_are_counted_in_the_bucket_of_each_change(
    store: Storage, activity: ActivityLog, clock: ManualClock
) -> None:
    """Accepted when stored, sent and failed when settled, each in its own minute; a redrive
    is not a new acceptance, and what happened outside the range is not counted."""
    since = clock.now()
    for n in range(3):
        await store.queue.put(new(clock, n))
    clock.advance(MINUTE + 1)
    first, second, third = await store.queue.lease(3, VISIBILITY)
    sent = Event(clock.now(), State.SENT, "outbox", "mid-1")
    assert await store.queue.ack(first, sent)
    assert await store.queue.ack(second, Event(clock.now(), State.SENT, "outbox", "mid-2"))
    assert await store.queue.dead_letter(third, Event(clock.now(), State.FAILED, "outbox", "x"))
    clock.advance(MINUTE)
    assert await store.dead.redrive([third.id]) == [third.id]
    clock.advance(MINUTE)
    await store.queue.put(new(clock, 9))  # after the last bucket's end
    found = await activity.activity(since, 3, MINUTE)
    assert found.counts["accepted"] == [3, 0, 0]
    assert found.counts["sent"] == [0, 2, 0]
    assert found.counts["failed"] == [0, 1, 0]


async def test_matched_provider_events_are_counted_by_their_time(
    store: Storage, activity: ActivityLog, clock: ManualClock
) -> None:
    """Delivered, bounced and complained events matched to an email are counted at the time
    they happened; pending ones and other types are not."""
    assert store.events is not None
    since = clock.now() - 2 * MINUTE
    email = new(clock, 1).id
    records = [
        event(clock, 1, email_id=email, tenant="t"),
        event(clock, 2, email_id=email, tenant="t", at=since + 10),
        event(clock, 3, kind=EventType.BOUNCED, email_id=email, tenant="t", bounce="hard"),
        event(clock, 4, kind=EventType.COMPLAINED, email_id=email, tenant="t"),
        event(clock, 5, kind=EventType.OPENED, email_id=email, tenant="t"),
        event(clock, 6),  # not matched: pending
        event(clock, 7, email_id=email, tenant="t", at=since - 1),  # before the range
    ]
    await store.events.record(records)
    found = await activity.activity(since, 3, MINUTE)
    assert found.counts["delivered"] == [1, 0, 1]
    assert found.counts["bounced"] == [0, 0, 1]
    assert found.counts["complained"] == [0, 0, 1]
    assert found.counts["accepted"] == [0, 0, 0]


async def test_provider_attempts_are_counted_with_their_successes(
    store: Storage, activity: ActivityLog, clock: ManualClock
) -> None:
    """Each provider's calls since the time asked for, and how many it accepted; older calls
    are not counted."""
    await store.queue.put(new(clock, 1))
    (lease,) = await store.queue.lease(1, VISIBILITY)
    old = Event(clock.now(), State.SENDING, "sendgrid", "no", "down", "http_503")
    retrying = Event(clock.now(), State.RETRYING, "", "sendgrid: down")
    assert await store.queue.retry(lease, clock.now(), retrying, [old])
    clock.advance(MINUTE)
    since = clock.now()
    (lease,) = await store.queue.lease(1, VISIBILITY)
    down = Event(clock.now(), State.SENDING, "mailgun", "no", "down", "http_503")
    sent = Event(clock.now(), State.SENT, "sendgrid", "sg-1", "sent", "http_202")
    assert await store.queue.ack(lease, sent, [down])
    found = await activity.attempts(since)
    assert [(a.provider, a.attempts, a.succeeded) for a in found] == [
        ("mailgun", 1, 0),
        ("sendgrid", 1, 1),
    ]
    assert await activity.attempts(clock.now() + 1) == []


HOUR = 3600.0


async def test_a_day_is_counted_in_hourly_buckets(
    store: Storage, activity: ActivityLog, clock: ManualClock
) -> None:
    """Twenty-four buckets of an hour each (the dashboard's day chart): each email in the
    hour it was stored, sent or failed, however far apart those hours are."""
    since = clock.now()
    clock.advance(HOUR / 2)
    for n in range(2):
        await store.queue.put(new(clock, n))
    clock.advance(5 * HOUR)
    await store.queue.put(new(clock, 2))
    sent, failed = await store.queue.lease(2, VISIBILITY)
    assert await store.queue.ack(sent, Event(clock.now(), State.SENT, "outbox", "mid-1"))
    clock.advance(18 * HOUR)  # into the last hour of the day
    assert await store.queue.dead_letter(failed, Event(clock.now(), State.FAILED, "outbox", "x"))
    found = await activity.activity(since, 24, HOUR)
    assert found.bucket_seconds == HOUR
    assert all(len(counts) == 24 for counts in found.counts.values())
    assert found.counts["accepted"] == [2, 0, 0, 0, 0, 1] + [0] * 18
    assert found.counts["sent"] == [0] * 5 + [1] + [0] * 18
    assert found.counts["failed"] == [0] * 23 + [1]


async def test_latency_percentiles_are_the_nearest_ranks_of_the_calls(
    store: Storage, activity: ActivityLog, clock: ManualClock
) -> None:
    """Over 200 calls timed 1..200 ms (stored out of order) p50 is the 100th and p99 the 198th
    value; calls before `since` are not among them."""
    await store.queue.put(new(clock, 1))
    (lease,) = await store.queue.lease(1, VISIBILITY)
    old = Event(clock.now(), State.SENDING, "mailgun", "no", "down", "http_503", 9999.0)
    assert await store.queue.retry(lease, clock.now(), Event(clock.now(), State.RETRYING), [old])
    clock.advance(MINUTE)
    since = clock.now()
    took = [float(ms) for ms in range(200, 0, -1)]
    calls = [Event(clock.now(), State.SENDING, "mailgun", "no", "down", "x", ms) for ms in took]
    (lease,) = await store.queue.lease(1, VISIBILITY)
    assert await store.queue.retry(lease, clock.now(), Event(clock.now(), State.RETRYING), calls)
    (found,) = await activity.attempts(since)
    assert (found.attempts, found.p50_ms, found.p99_ms) == (200, 100.0, 198.0)
