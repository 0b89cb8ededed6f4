"""Provider attempts travel with the settle call and land in the history, on every engine."""

from postroom.domain.states import State
from postroom.ports.queue import Event
from postroom.ports.storage import Storage
from tests.conftest import ManualClock
from tests.contract.test_queue import VISIBILITY, new


def attempt(clock: ManualClock, provider: str, outcome: str, code: str) -> Event:
    return Event(clock.now(), State.SENDING, provider, f"{provider} said no", outcome, code)


async def test_ack_records_attempts_before_the_sent_event(
    storage: Storage, clock: ManualClock
) -> None:
    """A failover reads back as the failed attempt, then the sent event, with outcome and code."""
    await storage.queue.put(new(clock, 1))
    (lease,) = await storage.queue.lease(1, VISIBILITY)
    down = attempt(clock, "mailgun", "down", "http_503")
    sent = Event(clock.now(), State.SENT, "sendgrid", "sg-1", "sent", "http_202")
    assert await storage.queue.ack(lease, sent, [down])
    status = await storage.emails.status(lease.id)
    assert status is not None
    assert status.state is State.SENT
    assert [(e.state, e.provider, e.outcome, e.code) for e in status.events[1:]] == [
        (State.SENDING, "", "", ""),
        (State.SENDING, "mailgun", "down", "http_503"),
        (State.SENT, "sendgrid", "sent", "http_202"),
    ]
    assert status.events[2].reason == "mailgun said no"


async def test_retry_records_every_attempt_in_order(storage: Storage, clock: ManualClock) -> None:
    """Two failed attempts and the retrying event are stored in the order they happened."""
    await storage.queue.put(new(clock, 1))
    (lease,) = await storage.queue.lease(1, VISIBILITY)
    tried = [attempt(clock, "mailgun", "down", "http_503")]
    clock.advance(1)
    tried.append(attempt(clock, "sendgrid", "throttled", "http_429"))
    retrying = Event(clock.now(), State.RETRYING, "", "mailgun: down; sendgrid: throttled")
    assert await storage.queue.retry(lease, clock.now() + 30, retrying, tried)
    status = await storage.emails.status(lease.id)
    assert status is not None
    assert [(e.provider, e.outcome) for e in status.events[-3:]] == [
        ("mailgun", "down"),
        ("sendgrid", "throttled"),
        ("", ""),
    ]
    assert status.events[-1].state is State.RETRYING


async def test_dead_letter_names_the_last_attempt(storage: Storage, clock: ManualClock) -> None:
    """A dead letter lists the provider and error class of its last attempt."""
    await storage.queue.put(new(clock, 1))
    (lease,) = await storage.queue.lease(1, VISIBILITY)
    tried = [attempt(clock, "mailgun", "down", "http_503")]
    tried.append(attempt(clock, "smtp", "permanent", "smtp_550"))
    failed = Event(clock.now(), State.FAILED, "smtp", "smtp: permanent smtp_550")
    assert await storage.queue.dead_letter(lease, failed, tried)
    (dead,) = await storage.dead.dead(10)
    assert (dead.id, dead.provider, dead.error) == (lease.id, "smtp", "permanent")


async def test_stale_settle_records_no_attempt(storage: Storage, clock: ManualClock) -> None:
    """A holder whose lease lapsed adds nothing to the history, attempts included."""
    await storage.queue.put(new(clock, 1))
    (first,) = await storage.queue.lease(1, VISIBILITY)
    clock.advance(VISIBILITY + 1)
    (second,) = await storage.queue.lease(1, VISIBILITY)
    stale = [attempt(clock, "mailgun", "down", "http_503")]
    assert not await storage.queue.retry(
        first, clock.now() + 5, Event(clock.now(), State.RETRYING), stale
    )
    status = await storage.emails.status(second.id)
    assert status is not None
    assert all(e.outcome == "" for e in status.events)


async def test_each_attempt_keeps_how_long_its_call_took(
    storage: Storage, clock: ManualClock
) -> None:
    """The durations of the failed calls and of the call that sent travel with the settle
    into the attempts table, where the store's percentiles read them."""
    assert storage.activity is not None
    since = clock.now()
    await storage.queue.put(new(clock, 1))
    (lease,) = await storage.queue.lease(1, VISIBILITY)
    down = Event(clock.now(), State.SENDING, "mailgun", "no", "down", "http_503", 12.5)
    sent = Event(clock.now(), State.SENT, "mailgun", "mg-1", "sent", "http_200", 30.25)
    assert await storage.queue.ack(lease, sent, [down])
    (calls,) = await storage.activity.attempts(since)
    assert (calls.provider, calls.attempts, calls.succeeded) == ("mailgun", 2, 1)
    assert (calls.p50_ms, calls.p99_ms) == (12.5, 30.25)


async def test_an_attempt_without_a_duration_is_counted_but_not_timed(
    storage: Storage, clock: ManualClock
) -> None:
    """A call whose duration is unknown counts as a call and is left out of the percentiles;
    a provider with no timed call has none."""
    assert storage.activity is not None
    since = clock.now()
    await storage.queue.put(new(clock, 1))
    (lease,) = await storage.queue.lease(1, VISIBILITY)
    untimed = attempt(clock, "sendgrid", "down", "http_503")
    timed = Event(clock.now(), State.SENDING, "mailgun", "no", "down", "http_503", 40.0)
    retrying = Event(clock.now(), State.RETRYING, "", "down")
    assert await storage.queue.retry(lease, clock.now() + 30, retrying, [untimed, timed])
    mailgun, sendgrid = await storage.activity.attempts(since)
    assert (mailgun.attempts, mailgun.p50_ms, mailgun.p99_ms) == (1, 40.0, 40.0)
    assert (sendgrid.attempts, sendgrid.p50_ms, sendgrid.p99_ms) == (1, None, None)
