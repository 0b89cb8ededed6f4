"""The EventStore port (ports/events.py), the same for every store engine."""

import asyncio
from dataclasses import replace

import pytest

from postroom.domain.events import Bounce, EventType
from postroom.domain.states import State
from postroom.ports.events import (
    EventRecord,
    EventStore,
    Recorded,
    RecordOutcome,
    Replay,
    Resolution,
    Resolved,
)
from postroom.ports.queue import Event, NewEmail
from postroom.ports.storage import Storage
from postroom.ports.webhooks import Endpoint
from tests.conftest import ManualClock

HOLD = 30.0
EMAIL = "01900001-0000-7000-8000-000000000000"
OTHER_EMAIL = "01900002-0000-7000-8000-000000000000"


@pytest.fixture
def events(store: Storage) -> EventStore:
    assert store.events is not None
    return store.events


def event(
    clock: ManualClock,
    n: int,
    *,
    kind: EventType = EventType.DELIVERED,
    provider: str = "mailgun",
    at: float | None = None,
    recipient: str = "rk-1",
    bounce: str = "",
    email_id: str = "",
    tenant: str = "",
) -> EventRecord:
    return EventRecord(
        provider,
        f"dedup-{n}",
        kind,
        clock.now() if at is None else at,
        clock.now(),
        recipient_key=recipient,
        provider_message_id=f"mg-{n}",
        correlation_id=f"corr-{n}",
        bounce=bounce,
        description=f"said {n}",
        email_id=email_id,
        recipient_index=0 if email_id else -1,
        tenant=tenant,
    )


def keys(records: list[EventRecord]) -> list[str]:
    return [record.dedup_key for record in records]


async def test_a_batch_of_a_thousand_is_recorded_in_one_call(
    events: EventStore, clock: ManualClock
) -> None:
    """A thousand events in one call are all stored, pending, and read back field for field in
    the order given."""
    batch = [event(clock, n, kind=EventType.OPENED) for n in range(1000)]
    assert await events.record(batch) == Recorded(RecordOutcome.RECORDED, 1000, 0)
    assert await events.counts() == {"pending": 1000, "matched": 0, "unmatched": 0}
    leased = await events.pending(1000, clock.now(), HOLD)
    assert [replace(record, seq=0) for record in leased] == batch
    seqs = [record.seq for record in leased]
    assert seqs == sorted(set(seqs))


async def test_duplicates_are_skipped_and_counted(events: EventStore, clock: ManualClock) -> None:
    """An event already stored, or twice in one batch, is stored once and counted as a
    duplicate; the same key from another provider is another event."""
    assert await events.record([event(clock, 0), event(clock, 1)]) == Recorded(
        RecordOutcome.RECORDED, 2, 0
    )
    again = [event(clock, 1), event(clock, 2), event(clock, 2)]
    assert await events.record(again) == Recorded(RecordOutcome.RECORDED, 1, 2)
    other = await events.record([event(clock, 1, provider="sendgrid")])
    assert other == Recorded(RecordOutcome.RECORDED, 1, 0)
    assert (await events.counts())["pending"] == 4


async def test_a_replayed_token_with_the_same_body_stores_nothing(
    events: EventStore, clock: ManualClock
) -> None:
    """A token seen with the same digest is a duplicate, and its events are not stored."""
    first = await events.record([event(clock, 0)], Replay("token-1", "digest-1"))
    assert first == Recorded(RecordOutcome.RECORDED, 1, 0)
    replayed = await events.record([event(clock, 1)], Replay("token-1", "digest-1"))
    assert replayed.outcome is RecordOutcome.DUPLICATE
    assert (replayed.new, (await events.counts())["pending"]) == (0, 1)


async def test_a_reused_token_with_another_body_is_a_conflict(
    events: EventStore, clock: ManualClock
) -> None:
    """A token seen with another digest is a conflict and stores nothing; a new token stores."""
    await events.record([event(clock, 0)], Replay("token-1", "digest-1"))
    reused = await events.record([event(clock, 1)], Replay("token-1", "digest-2"))
    assert reused.outcome is RecordOutcome.CONFLICT
    assert (await events.counts())["pending"] == 1
    fresh = await events.record([event(clock, 1)], Replay("token-2", "digest-2"))
    assert fresh == Recorded(RecordOutcome.RECORDED, 1, 0)


async def test_pending_hides_events_for_the_hold_then_hands_them_out_again(
    events: EventStore, clock: ManualClock
) -> None:
    """Pending hands out due events oldest first up to the limit, hides them for the hold,
    and hands them out again once it lapses."""
    for n in range(3):
        await events.record([event(clock, n)])
        clock.advance(1)
    assert await events.pending(10, clock.now() - 10, HOLD) == []  # none due yet
    assert keys(await events.pending(2, clock.now(), HOLD)) == ["dedup-0", "dedup-1"]
    assert keys(await events.pending(10, clock.now(), HOLD)) == ["dedup-2"]
    assert await events.pending(10, clock.now(), HOLD) == []
    clock.advance(HOLD + 1)
    again = await events.pending(10, clock.now(), HOLD)
    assert keys(again) == ["dedup-0", "dedup-1", "dedup-2"]


async def test_two_callers_at_once_never_take_the_same_event(
    events: EventStore, clock: ManualClock
) -> None:
    """Two processors asking together share the pending events without overlap."""
    await events.record([event(clock, n) for n in range(100)])
    first, second = await asyncio.gather(
        events.pending(60, clock.now(), HOLD), events.pending(60, clock.now(), HOLD)
    )
    assert not set(keys(first)) & set(keys(second))
    assert len(first) + len(second) == 100


async def test_resolve_matched_unmatched_and_later(events: EventStore, clock: ManualClock) -> None:
    """A matched event joins its email's history, an unmatched one is kept but never pending
    again, and a later one is pending again from its time."""
    await events.record([event(clock, n) for n in range(3)])
    matched, unmatched, later = await events.pending(10, clock.now(), HOLD)
    await events.resolve(
        [
            Resolved(matched.seq, Resolution.MATCHED, EMAIL, 2, "acme"),
            Resolved(unmatched.seq, Resolution.UNMATCHED),
            Resolved(later.seq, Resolution.LATER, at=clock.now() + 2 * HOLD),
        ]
    )
    assert await events.counts() == {"pending": 1, "matched": 1, "unmatched": 1}
    (found,) = await events.for_email(EMAIL)
    assert found == replace(matched, email_id=EMAIL, recipient_index=2, tenant="acme")
    clock.advance(HOLD + 1)
    assert await events.pending(10, clock.now(), HOLD) == []  # later's time is not yet here
    clock.advance(HOLD)
    assert keys(await events.pending(10, clock.now(), HOLD)) == ["dedup-2"]


async def test_a_resolved_event_stays_resolved(events: EventStore, clock: ManualClock) -> None:
    """Resolving an event already matched or unmatched again changes nothing."""
    await events.record([event(clock, 0), event(clock, 1)])
    first, second = await events.pending(10, clock.now(), HOLD)
    await events.resolve(
        [
            Resolved(first.seq, Resolution.MATCHED, EMAIL, 0, "acme"),
            Resolved(second.seq, Resolution.UNMATCHED),
        ]
    )
    await events.resolve(
        [
            Resolved(first.seq, Resolution.LATER, at=clock.now()),
            Resolved(second.seq, Resolution.MATCHED, OTHER_EMAIL, 0, "acme"),
        ]
    )
    assert await events.counts() == {"pending": 0, "matched": 1, "unmatched": 1}
    assert [e.tenant for e in await events.for_email(EMAIL)] == ["acme"]
    assert await events.for_email(OTHER_EMAIL) == []


async def test_events_that_name_their_email_are_stored_matched(
    events: EventStore, clock: ManualClock
) -> None:
    """An event recorded with its email id is matched at once and never pending."""
    own = event(clock, 0, kind=EventType.SCHEDULED, email_id=EMAIL, tenant="acme")
    await events.record([own])
    assert await events.counts() == {"pending": 0, "matched": 1, "unmatched": 0}
    assert await events.pending(10, clock.now(), HOLD) == []
    (found,) = await events.for_email(EMAIL)
    assert (found.type, found.email_id, found.tenant) == (EventType.SCHEDULED, EMAIL, "acme")


async def test_for_email_orders_by_time_then_seq(events: EventStore, clock: ManualClock) -> None:
    """An email's events come by when they happened, ties in the order recorded; no other
    email's and no pending ones."""
    t = clock.now()
    await events.record(
        [
            event(clock, 0, at=t + 5, email_id=EMAIL),
            event(clock, 1, at=t + 3, email_id=EMAIL),
            event(clock, 2, at=t + 5, email_id=EMAIL),
            event(clock, 3, at=t + 1, email_id=OTHER_EMAIL),
            event(clock, 4, at=t),
        ]
    )
    await events.record([event(clock, 5, at=t + 3, email_id=EMAIL)])
    found = await events.for_email(EMAIL)
    assert keys(found) == ["dedup-1", "dedup-5", "dedup-0", "dedup-2"]
    assert await events.for_email("01900009-0000-7000-8000-000000000000") == []


def soft_bounce(
    clock: ManualClock, n: int, at: float, tenant: str = "acme", recipient: str = "rk-1"
) -> EventRecord:
    return event(
        clock,
        n,
        kind=EventType.BOUNCED,
        bounce=Bounce.SOFT,
        at=at,
        recipient=recipient,
        email_id=EMAIL,
        tenant=tenant,
    )


async def test_soft_bounces_counts_one_tenants_recipient_since_a_time(
    events: EventStore, clock: ManualClock
) -> None:
    """Only matched soft bounces of that tenant's recipient since the time are counted."""
    t = clock.now()
    await events.record(
        [
            soft_bounce(clock, 0, t - 10),
            soft_bounce(clock, 1, t - 20),
            soft_bounce(clock, 2, t - 100),
            soft_bounce(clock, 3, t - 10, tenant="other"),
            soft_bounce(clock, 4, t - 10, recipient="rk-2"),
            event(
                clock, 5, kind=EventType.BOUNCED, bounce=Bounce.HARD, email_id=EMAIL, tenant="acme"
            ),
            event(clock, 6, kind=EventType.DEFERRED, email_id=EMAIL, tenant="acme"),
            event(clock, 7, kind=EventType.BOUNCED, bounce=Bounce.SOFT),  # pending
        ]
    )
    assert await events.soft_bounces("acme", "rk-1", t - 50) == 2
    (pending,) = await events.pending(10, clock.now(), HOLD)
    await events.resolve([Resolved(pending.seq, Resolution.MATCHED, EMAIL, 0, "acme")])
    assert await events.soft_bounces("acme", "rk-1", t - 50) == 3
    assert await events.soft_bounces("acme", "rk-1", t - 200) == 4
    assert await events.soft_bounces("acme", "rk-3", t - 200) == 0


async def test_purge_drops_old_events_and_replay_tokens(
    events: EventStore, clock: ManualClock
) -> None:
    """Events received and tokens stored before the cutoff are dropped, later ones kept; a
    dropped token may be used again."""
    await events.record([event(clock, 0), event(clock, 1, email_id=EMAIL)], Replay("t-1", "d"))
    clock.advance(100)
    await events.record([event(clock, 2)], Replay("t-2", "d"))
    assert await events.purge_events(clock.now() - 50) == 2
    assert await events.counts() == {"pending": 1, "matched": 0, "unmatched": 0}
    assert await events.for_email(EMAIL) == []
    assert (await events.record([], Replay("t-1", "other"))).outcome is RecordOutcome.RECORDED
    assert (await events.record([], Replay("t-2", "other"))).outcome is RecordOutcome.CONFLICT


async def test_every_bundle_carries_the_event_store(storage: Storage, clock: ManualClock) -> None:
    """Every engine's bundle, SQS's included (the store's), records and hands out events."""
    assert storage.events is not None
    assert (await storage.events.record([event(clock, 0)])).new == 1
    assert keys(await storage.events.pending(10, clock.now(), HOLD)) == ["dedup-0"]


async def test_an_ack_records_its_emails_own_events_in_its_write(
    store: Storage, clock: ManualClock
) -> None:
    """Where the store is the queue too, an ack stores its email's own events, matched and
    fed, with it, and counts the webhook messages they made; an ack whose lease is no longer
    held is refused and stores them all the same, once (the provider took the email either
    way)."""
    acks, hooks = store.recording_acks, store.webhooks
    if acks is None or hooks is None:
        pytest.skip("this engine records own events apart from the ack")
    email_id = "01900003-0000-7000-8000-000000000000"
    await store.queue.put(NewEmail(email_id, b"payload", clock.now()))
    (lease,) = await store.queue.lease(1, HOLD)
    now = clock.now()
    await hooks.create_endpoint(
        Endpoint("ep_1", "acme", "https://x.example", (), "", True, (), now, now)
    )
    sent = Event(now, State.SENT, "mailgun", "mg-1", "sent", "http_200")
    told = [event(clock, 1, kind=EventType.SENT, email_id=email_id, tenant="acme")]
    assert await acks.ack_recording(lease, sent, (), told) == (True, 1)
    status = await store.emails.status(email_id)
    assert status is not None
    assert status.state is State.SENT
    assert keys(await events_of(store, email_id)) == ["dedup-1"]
    assert await acks.ack_recording(lease, sent, (), told) == (False, 0)
    again = [*told, event(clock, 2, kind=EventType.SENT, email_id=email_id, tenant="acme")]
    assert await acks.ack_recording(lease, sent, (), again) == (False, 1)
    assert keys(await events_of(store, email_id)) == ["dedup-1", "dedup-2"]
    assert [item.email_id for item in await hooks.feed("acme", 0, (), 10)] == [email_id] * 2


async def events_of(store: Storage, email_id: str) -> list[EventRecord]:
    assert store.events is not None
    return await store.events.for_email(email_id)
