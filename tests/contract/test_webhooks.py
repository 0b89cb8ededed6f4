"""The WebhookStore port (ports/webhooks.py) and the feed the event store writes, the same for
every store engine."""

import asyncio
from dataclasses import replace

import pytest

from postroom.domain.events import Bounce, EventType
from postroom.domain.webhooks import ENDPOINT_DISABLED
from postroom.ports.events import EventRecord, EventStore, Resolution, Resolved
from postroom.ports.storage import Storage
from postroom.ports.webhooks import (
    Attempt,
    Endpoint,
    FeedItem,
    Leased,
    MessageState,
    NewMessage,
    Outcome,
    Secret,
    WebhookStore,
)
from tests.conftest import ManualClock
from tests.support.postgres import database_url

HOLD = 30.0
EMAIL = "01900001-0000-7000-8000-000000000000"
OTHER_EMAIL = "01900002-0000-7000-8000-000000000000"
PENDING = MessageState.PENDING
DELIVERED = MessageState.DELIVERED
FAILED = MessageState.FAILED


@pytest.fixture
def events(store: Storage) -> EventStore:
    assert store.events is not None
    return store.events


@pytest.fixture
def hooks(store: Storage) -> WebhookStore:
    assert store.webhooks is not None
    return store.webhooks


def endpoint(
    clock: ManualClock,
    n: int,
    *,
    tenant: str = "acme",
    types: tuple[str, ...] = (),
    enabled: bool = True,
) -> Endpoint:
    """Endpoint n, created n seconds from now (so they list in the order of n)."""
    return Endpoint(
        id=f"ep_{n}",
        tenant=tenant,
        url=f"https://hooks.example.com/{n}",
        types=types,
        description=f"endpoint {n}",
        enabled=enabled,
        secrets=(Secret(f"sealed-{n}"),),
        created_at=clock.now() + n,
        updated_at=clock.now() + n,
        disabled_reason="" if enabled else "by hand",
    )


def event(
    clock: ManualClock,
    n: int,
    *,
    kind: EventType = EventType.DELIVERED,
    email_id: str = "",
    tenant: str = "",
    bounce: str = "",
) -> EventRecord:
    return EventRecord(
        "mailgun",
        f"dedup-{n}",
        kind,
        clock.now() - 10,
        clock.now(),
        recipient_key="rk-1",
        provider_message_id=f"mg-{n}",
        reject_reason=f"reason {n}" if kind is EventType.REJECTED else "",
        bounce=bounce,
        description=f"said {n}",
        email_id=email_id,
        recipient_index=1 if email_id else -1,
        tenant=tenant,
    )


async def matched(
    events: EventStore,
    clock: ManualClock,
    numbers: range | list[int],
    *,
    kind: EventType = EventType.DELIVERED,
    tenant: str = "acme",
) -> list[EventRecord]:
    """Provider events recorded, then resolved matched to EMAIL's recipient 2 of `tenant`."""
    await events.record([event(clock, n, kind=kind) for n in numbers])
    found = await events.pending(len(numbers), clock.now(), HOLD)
    await events.resolve([Resolved(e.seq, Resolution.MATCHED, EMAIL, 2, tenant) for e in found])
    return found


def webhook_ids(leased: list[Leased]) -> list[tuple[str, str]]:
    return [(one.message.webhook_id, one.endpoint.id) for one in leased]


def failure(
    one: Leased,
    at: float,
    state: MessageState = PENDING,
    disable_reason: str = "",
    disabled_data: str = "",
) -> Outcome:
    attempt = Attempt(one.message.id, one.message.webhook_id, one.endpoint.id, at, 500, 0.25, "no")
    next_at = at + 5 if state is PENDING else None
    return Outcome(
        attempt, state, next_at, disable_reason=disable_reason, disabled_data=disabled_data
    )


def success(one: Leased, at: float) -> Outcome:
    attempt = Attempt(one.message.id, one.message.webhook_id, one.endpoint.id, at, 204, 0.1)
    return Outcome(attempt, DELIVERED, succeeded=True)


async def test_endpoints_are_stored_listed_replaced_and_kept_per_tenant(
    hooks: WebhookStore, clock: ManualClock
) -> None:
    """An endpoint reads back field for field, only for its tenant; a tenant's list is oldest
    first; an update replaces it whole, and one of an endpoint gone (or another tenant's)
    changes nothing."""
    second, first = (
        endpoint(clock, 2, types=("email.bounced", "email.delivered")),
        endpoint(clock, 1),
    )
    other = endpoint(clock, 3, tenant="globex")
    for one in (second, first, other):
        await hooks.create_endpoint(one)
    assert await hooks.get_endpoint("acme", "ep_2") == second
    assert await hooks.get_endpoint("globex", "ep_2") is None
    assert await hooks.list_endpoints("acme") == [first, second]
    changed = replace(
        second,
        url="https://hooks.example.com/new",
        types=(),
        secrets=(Secret("sealed-new"), Secret("sealed-2", clock.now() + 86400)),
        enabled=False,
        disabled_reason="by hand",
        failing_since=clock.now() - 60,
        updated_at=clock.now() + 100,
    )
    assert await hooks.update_endpoint(changed)
    assert await hooks.get_endpoint("acme", "ep_2") == changed
    assert not await hooks.update_endpoint(replace(changed, id="ep_9"))
    assert not await hooks.update_endpoint(replace(other, tenant="acme"))
    assert await hooks.get_endpoint("globex", "ep_3") == other


async def test_a_matched_event_reaches_the_feed_and_the_endpoints_that_take_it(
    events: EventStore, hooks: WebhookStore, clock: ManualClock
) -> None:
    """Resolving an event matched appends one feed item, read with its event's fields, and
    gives a message to each enabled endpoint of the tenant whose types take it, alone."""
    endpoints = [
        endpoint(clock, 1),
        endpoint(clock, 2, types=("email.bounced",)),
        endpoint(clock, 3, types=("email.delivered", "email.opened")),
        endpoint(clock, 4, enabled=False),
        endpoint(clock, 5, tenant="globex"),
    ]
    for made in endpoints:
        await hooks.create_endpoint(made)
    (resolved,) = await matched(events, clock, [0])
    (item,) = await hooks.feed("acme", 0, (), 10)
    assert item == FeedItem(
        item.seq,
        "acme",
        "email.delivered",
        resolved.at,
        clock.now(),
        email_id=EMAIL,
        recipient_index=2,
        provider="mailgun",
        description="said 0",
    )
    assert await hooks.feed("globex", 0, (), 10) == []
    assert await hooks.counts() == {"pending": 2, "delivered": 0, "failed": 0}
    leased = await hooks.lease(10, clock.now(), HOLD)
    assert webhook_ids(leased) == [(f"evt_{item.seq}", "ep_1"), (f"evt_{item.seq}", "ep_3")]
    for one in leased:
        message = one.message
        assert (message.state, message.attempts, message.type) == (PENDING, 0, "email.delivered")
        assert (message.tenant, message.created_at, message.payload) == ("acme", clock.now(), "")
        assert message.next_at == clock.now() + HOLD
        assert message.item == item
    assert [one.endpoint for one in leased] == [endpoints[0], endpoints[2]]


async def test_an_endpoint_made_later_gets_no_earlier_items(
    events: EventStore, hooks: WebhookStore, clock: ManualClock
) -> None:
    """Fan-out happens when an item is written: an endpoint created after it gets nothing."""
    await matched(events, clock, [0])
    await hooks.create_endpoint(endpoint(clock, 1))
    assert await hooks.lease(10, clock.now(), HOLD) == []
    assert len(await hooks.feed("acme", 0, (), 10)) == 1


async def test_own_events_recorded_matched_reach_the_feed(
    events: EventStore, hooks: WebhookStore, clock: ManualClock
) -> None:
    """Postroom's own events, recorded with their email, are fed in the same write; pending
    ones and `unknown` ones are not."""
    await hooks.create_endpoint(endpoint(clock, 1))
    own = event(clock, 0, kind=EventType.REJECTED, email_id=EMAIL, tenant="acme")
    unknown = event(clock, 1, kind=EventType.UNKNOWN, email_id=EMAIL, tenant="acme")
    bounced = event(
        clock, 3, kind=EventType.BOUNCED, email_id=OTHER_EMAIL, tenant="acme", bounce=Bounce.HARD
    )
    await events.record([own, unknown, event(clock, 2), bounced])
    item, other = await hooks.feed("acme", 0, (), 10)
    assert (item.type, item.email_id, item.recipient_index) == ("email.rejected", EMAIL, 1)
    assert (item.reject_reason, item.at) == ("reason 0", own.at)
    assert (other.type, other.email_id, other.bounce) == ("email.bounced", OTHER_EMAIL, "hard")
    expected = [(f"evt_{item.seq}", "ep_1"), (f"evt_{other.seq}", "ep_1")]
    assert webhook_ids(await hooks.lease(10, clock.now(), HOLD)) == expected


async def test_recorded_counts_the_webhook_messages_its_events_made(
    events: EventStore, hooks: WebhookStore, clock: ManualClock
) -> None:
    """`messages` counts one per fed event and endpoint that takes it: none without an
    endpoint, none for pending events, none when the event was stored already."""
    sent = event(clock, 0, kind=EventType.SENT, email_id=EMAIL, tenant="acme")
    assert (await events.record([sent])).messages == 0
    await hooks.create_endpoint(endpoint(clock, 1))
    await hooks.create_endpoint(endpoint(clock, 2, types=("email.bounced",)))
    await hooks.create_endpoint(endpoint(clock, 3, types=("email.delivered",)))
    delivered = event(clock, 1, email_id=EMAIL, tenant="acme")
    recorded = await events.record([delivered, event(clock, 2)])
    assert (recorded.new, recorded.messages) == (2, 2)
    assert (await events.record([delivered])).messages == 0


async def test_an_event_is_fed_once_however_often_it_is_resolved_or_recorded(
    events: EventStore, hooks: WebhookStore, clock: ManualClock
) -> None:
    """Resolving the same events again, recording the same own event again, and resolving
    events unmatched or later add no item and no message."""
    await hooks.create_endpoint(endpoint(clock, 1))
    found = await matched(events, clock, [0, 1])
    await events.resolve([Resolved(e.seq, Resolution.MATCHED, EMAIL, 2, "acme") for e in found])
    own = event(clock, 2, kind=EventType.SENT, email_id=EMAIL, tenant="acme")
    await events.record([own])
    await events.record([own])
    await events.record([event(clock, 3), event(clock, 4)])
    third, fourth = await events.pending(10, clock.now(), HOLD)
    await events.resolve(
        [
            Resolved(third.seq, Resolution.UNMATCHED),
            Resolved(fourth.seq, Resolution.LATER, at=clock.now() + 60),
        ]
    )
    kinds = [item.type for item in await hooks.feed("acme", 0, (), 10)]
    assert kinds == ["email.delivered", "email.delivered", "email.sent"]
    assert (await hooks.counts())["pending"] == 3


async def test_the_feed_pages_by_seq_with_types_and_tenants(
    events: EventStore, hooks: WebhookStore, clock: ManualClock
) -> None:
    """Pages after a cursor come in seq order with no item twice; a types filter keeps only
    those; another tenant's items are never in them."""
    await matched(events, clock, range(0, 4))
    await matched(events, clock, range(4, 7), kind=EventType.BOUNCED)
    await matched(events, clock, range(7, 9), tenant="globex")
    await matched(events, clock, range(9, 12), kind=EventType.OPENED)
    everything = await hooks.feed("acme", 0, (), 100)
    assert len(everything) == 10
    seqs = [item.seq for item in everything]
    assert seqs == sorted(set(seqs))
    paged: list[FeedItem] = []
    cursor = 0
    while page := await hooks.feed("acme", cursor, (), 3):
        assert len(page) <= 3
        paged += page
        cursor = page[-1].seq
    assert paged == everything
    kinds = ("email.bounced", "email.opened")
    wanted = await hooks.feed("acme", 0, kinds, 100)
    assert wanted == [item for item in everything if item.type in kinds]
    assert await hooks.feed("acme", seqs[5], (), 2) == everything[6:8]
    assert [item.tenant for item in await hooks.feed("globex", 0, (), 100)] == ["globex"] * 2


async def test_lease_hides_messages_for_the_hold_then_hands_them_out_again(
    hooks: WebhookStore, clock: ManualClock
) -> None:
    """Lease hands out due messages oldest due first up to the limit, hides them for the
    hold, and hands them out again once it lapses; one not due yet waits for its time."""
    await hooks.create_endpoint(endpoint(clock, 1))
    now = clock.now()
    await hooks.enqueue(
        [
            NewMessage("msg_late", "ep_1", "acme", "webhook.test", '{"n":3}', now + 100),
            NewMessage("msg_b", "ep_1", "acme", "webhook.test", '{"n":2}', now - 5),
            NewMessage("msg_a", "ep_1", "acme", "webhook.test", '{"n":1}', now - 10),
        ]
    )
    (first,) = await hooks.lease(1, now, HOLD)
    assert (first.message.webhook_id, first.message.payload) == ("msg_a", '{"n":1}')
    assert (first.message.item, first.message.created_at) == (None, now)
    assert [one.message.webhook_id for one in await hooks.lease(10, now, HOLD)] == ["msg_b"]
    assert await hooks.lease(10, now, HOLD) == []
    clock.advance(HOLD + 1)
    again = await hooks.lease(10, clock.now(), HOLD)
    # Both hidden until the same time: then in the order they were stored.
    assert [one.message.webhook_id for one in again] == ["msg_b", "msg_a"]
    clock.advance(HOLD - 2)
    assert await hooks.lease(10, clock.now(), HOLD) == []
    clock.advance(100 - 2 * HOLD + 1)
    # The late one is due at last, after the two whose second hold lapsed before it.
    late = await hooks.lease(10, clock.now(), HOLD)
    assert [one.message.webhook_id for one in late] == ["msg_b", "msg_a", "msg_late"]


async def test_a_disabled_endpoints_messages_wait(hooks: WebhookStore, clock: ManualClock) -> None:
    """Messages of a disabled endpoint are not leased; enabled again, they are."""
    one = endpoint(clock, 1)
    await hooks.create_endpoint(one)
    await hooks.enqueue([NewMessage("msg_a", "ep_1", "acme", "webhook.test", "{}", clock.now())])
    await hooks.update_endpoint(replace(one, enabled=False, disabled_reason="by hand"))
    assert await hooks.lease(10, clock.now(), HOLD) == []
    await hooks.update_endpoint(one)
    assert len(await hooks.lease(10, clock.now(), HOLD)) == 1


async def test_settle_records_attempts_states_and_failing_since(
    hooks: WebhookStore, clock: ManualClock
) -> None:
    """A failure keeps the message pending until its next time and starts the endpoint's
    failing_since, which a second failure keeps and a success clears; a message's attempts
    count each attempt, and a final failure is failed."""
    await hooks.create_endpoint(endpoint(clock, 1))
    now = clock.now()
    await hooks.enqueue(
        [NewMessage(f"msg_{n}", "ep_1", "acme", "webhook.test", "{}", now) for n in range(2)]
    )
    first, second = await hooks.lease(10, now, HOLD)
    await hooks.settle([failure(first, now + 1)])
    stored = await hooks.get_endpoint("acme", "ep_1")
    assert stored is not None
    assert stored.failing_since == now + 1
    clock.advance(6)
    (again,) = await hooks.lease(10, clock.now(), HOLD)
    assert (again.message.id, again.message.attempts) == (first.message.id, 1)
    assert again.endpoint.failing_since == now + 1
    await hooks.settle([failure(again, now + 7, state=FAILED), success(second, now + 8)])
    stored = await hooks.get_endpoint("acme", "ep_1")
    assert stored is not None
    assert stored.failing_since is None
    assert await hooks.counts() == {"pending": 0, "delivered": 1, "failed": 1}
    clock.advance(HOLD * 10)
    assert await hooks.lease(10, clock.now(), HOLD) == []
    await hooks.replay("acme", "ep_1", 0, clock.now(), True, clock.now())
    (replayed,) = await hooks.lease(10, clock.now(), HOLD)
    await hooks.settle([failure(replayed, now + 9), success(replayed, now + 10)])
    await hooks.settle([failure(replayed, now + 11), failure(replayed, now + 12)])
    stored = await hooks.get_endpoint("acme", "ep_1")
    assert stored is not None
    assert stored.failing_since == now + 11


async def test_attempts_page_newest_first(hooks: WebhookStore, clock: ManualClock) -> None:
    """An endpoint's attempts come newest first, field for field, paged by the id of the
    last one of the page before; never another endpoint's, nor to another tenant."""
    await hooks.create_endpoint(endpoint(clock, 1))
    await hooks.create_endpoint(endpoint(clock, 2))
    now = clock.now()
    await hooks.enqueue(
        [
            NewMessage("msg_a", "ep_1", "acme", "webhook.test", "{}", now),
            NewMessage("msg_b", "ep_2", "acme", "webhook.test", "{}", now),
        ]
    )
    ours, theirs = await hooks.lease(10, now, HOLD)
    for n in range(5):
        await hooks.settle([failure(ours, now + n), failure(theirs, now + n)])
    listed = await hooks.attempts("acme", "ep_1", 10)
    assert [a.at for a in listed] == [now + n for n in reversed(range(5))]
    ids = [a.id for a in listed]
    assert ids == sorted(ids, reverse=True)
    assert replace(listed[0], id=0) == failure(ours, now + 4).attempt
    page = await hooks.attempts("acme", "ep_1", 2, before=ids[1])
    assert page == listed[2:4]
    assert await hooks.attempts("acme", "ep_1", 2, before=ids[-1]) == []
    assert await hooks.attempts("globex", "ep_1", 10) == []


async def test_a_disabling_outcome_tells_the_tenants_other_endpoints(
    events: EventStore, hooks: WebhookStore, clock: ManualClock
) -> None:
    """An outcome that disables its endpoint disables it with its reason and appends the
    disabled item (its data) to the feed, sent to the tenant's other enabled endpoints that
    take it and to no other; a second such outcome adds nothing."""
    for one in (
        endpoint(clock, 1),
        endpoint(clock, 2, types=(ENDPOINT_DISABLED,)),
        endpoint(clock, 3, types=("email.delivered",)),
        endpoint(clock, 4, tenant="globex"),
    ):
        await hooks.create_endpoint(one)
    await matched(events, clock, [0])
    leased = await hooks.lease(10, clock.now(), HOLD)
    ours = next(one for one in leased if one.endpoint.id == "ep_1")
    data = '{"endpointId":"ep_1"}'
    disabling = failure(ours, clock.now() + 1, disable_reason="gone", disabled_data=data)
    await hooks.settle([disabling])
    stored = await hooks.get_endpoint("acme", "ep_1")
    assert stored is not None
    assert (stored.enabled, stored.disabled_reason) == (False, "gone")
    item = (await hooks.feed("acme", 0, (ENDPOINT_DISABLED,), 10))[0]
    assert item == FeedItem(
        item.seq, "acme", ENDPOINT_DISABLED, clock.now() + 1, clock.now(), data=data
    )
    clock.advance(HOLD + 1)
    told = await hooks.lease(10, clock.now(), HOLD)
    assert (f"evt_{item.seq}", "ep_2") in webhook_ids(told)
    assert [one.endpoint.id for one in told if one.message.type == ENDPOINT_DISABLED] == ["ep_2"]
    assert all(one.endpoint.id != "ep_1" for one in told)
    await hooks.settle([disabling])
    assert len(await hooks.feed("acme", 0, (ENDPOINT_DISABLED,), 10)) == 1
    assert await hooks.feed("globex", 0, (), 10) == []


async def test_replay_makes_messages_pending_again(hooks: WebhookStore, clock: ManualClock) -> None:
    """Replay makes the endpoint's messages created in [since, until) pending and due now
    with no attempts: all of them, only the failed ones, or only one webhook-id; never
    another endpoint's or another tenant's."""
    await hooks.create_endpoint(endpoint(clock, 1))
    await hooks.create_endpoint(endpoint(clock, 2))
    start = clock.now()
    for n in range(4):
        await hooks.enqueue([NewMessage(f"msg_{n}", "ep_1", "acme", "t", "{}", clock.now())])
        clock.advance(10)
    await hooks.enqueue([NewMessage("msg_x", "ep_2", "acme", "t", "{}", clock.now())])
    leased = await hooks.lease(10, clock.now(), HOLD)
    by_id = {one.message.webhook_id: one for one in leased}
    now = clock.now()
    await hooks.settle(
        [
            failure(by_id["msg_0"], now, state=FAILED),
            success(by_id["msg_1"], now),
            failure(by_id["msg_2"], now, state=FAILED),
            failure(by_id["msg_3"], now, state=FAILED),
            failure(by_id["msg_x"], now, state=FAILED),
        ]
    )
    assert await hooks.replay("globex", "ep_1", start, start + 100, False, now) == 0
    assert await hooks.replay("acme", "ep_1", start, start + 30, True, now) == 2  # msg_0, msg_2
    assert await hooks.replay("acme", "ep_1", start, start + 30, False, now) == 3
    assert await hooks.replay("acme", "ep_1", start, start + 100, False, now, "msg_3") == 1
    assert await hooks.counts() == {"pending": 4, "delivered": 0, "failed": 1}
    again = await hooks.lease(10, now, HOLD)
    assert sorted(one.message.webhook_id for one in again) == [f"msg_{n}" for n in range(4)]
    assert all((one.message.attempts, one.message.state) == (0, PENDING) for one in again)


async def test_deleting_an_endpoint_deletes_its_messages_and_attempts(
    events: EventStore, hooks: WebhookStore, clock: ManualClock
) -> None:
    """An endpoint deleted takes its messages and attempts with it; the tenant's others keep
    theirs, and another tenant cannot delete it."""
    await hooks.create_endpoint(endpoint(clock, 1))
    await hooks.create_endpoint(endpoint(clock, 2))
    await matched(events, clock, [0, 1])
    leased = await hooks.lease(10, clock.now(), HOLD)
    await hooks.settle([failure(one, clock.now()) for one in leased])
    assert not await hooks.delete_endpoint("globex", "ep_1")
    assert await hooks.delete_endpoint("acme", "ep_1")
    assert not await hooks.delete_endpoint("acme", "ep_1")
    assert await hooks.get_endpoint("acme", "ep_1") is None
    assert await hooks.counts() == {"pending": 2, "delivered": 0, "failed": 0}
    assert await hooks.attempts("acme", "ep_1", 10) == []
    assert len(await hooks.attempts("acme", "ep_2", 10)) == 2
    clock.advance(60)
    assert {one.endpoint.id for one in await hooks.lease(10, clock.now(), HOLD)} == {"ep_2"}


async def test_purge_drops_old_items_finished_messages_and_attempts(
    events: EventStore, hooks: WebhookStore, clock: ManualClock
) -> None:
    """Retention drops feed items, delivered and failed messages and attempts from before the
    cutoff; a pending message stays, however old, and then leases without its item."""
    await hooks.create_endpoint(endpoint(clock, 1))
    await matched(events, clock, [0, 1, 2])
    first, second, third = await hooks.lease(10, clock.now(), HOLD)
    await hooks.settle([success(first, clock.now()), failure(second, clock.now(), state=FAILED)])
    await hooks.settle([failure(third, clock.now())])
    clock.advance(100)
    cutoff = clock.now()
    await matched(events, clock, [3])
    assert await hooks.purge_webhooks(cutoff) == 3
    assert [item.email_id for item in await hooks.feed("acme", 0, (), 10)] == [EMAIL]
    assert await hooks.counts() == {"pending": 2, "delivered": 0, "failed": 0}
    assert await hooks.attempts("acme", "ep_1", 10) == []
    leased = await hooks.lease(10, clock.now(), HOLD)
    by_id = {one.message.id: one.message for one in leased}
    assert by_id[third.message.id].item is None
    assert len(leased) == 2
    assert all(m.item is not None for i, m in by_id.items() if i != third.message.id)
    assert await hooks.purge_webhooks(cutoff) == 0


async def test_purging_events_drops_their_items(
    events: EventStore, hooks: WebhookStore, clock: ManualClock
) -> None:
    """An item derived from an event goes with it: it would name no email without it."""
    await matched(events, clock, [0], kind=EventType.BOUNCED)
    clock.advance(100)
    await events.record([event(clock, 1, email_id=OTHER_EMAIL, tenant="acme")])
    assert await events.purge_events(clock.now() - 50) == 1
    (item,) = await hooks.feed("acme", 0, (), 10)
    assert (item.email_id, item.type) == (OTHER_EMAIL, "email.delivered")


async def test_concurrent_feed_writes_never_appear_behind_a_reader(
    postgres_storage: Storage, postgres_database: str, clock: ManualClock
) -> None:
    """PostgreSQL: while many connections resolve and record matched events at once, a
    reader paging by seq collects exactly the final feed: no item ever commits behind its
    cursor."""
    from postroom.storage.postgres import open_storage

    url = database_url(postgres_database, "migrate=off&pool_max=4")
    writers = [open_storage(url, clock) for _ in range(4)]
    assert postgres_storage.events is not None
    assert postgres_storage.webhooks is not None
    await postgres_storage.webhooks.create_endpoint(endpoint(clock, 1))
    await postgres_storage.events.record([event(clock, n) for n in range(400)])
    pending = await postgres_storage.events.pending(400, clock.now(), HOLD)
    try:
        seen, own = await _read_while_writing(postgres_storage.webhooks, writers, pending, clock)
    finally:
        for one in writers:
            await one.close()
    final = [item.seq for item in await postgres_storage.webhooks.feed("acme", 0, (), 10_000)]
    assert len(final) == len(pending) + own
    assert seen == final
    counts = await postgres_storage.webhooks.counts()
    assert counts["pending"] == len(final)


async def _read_while_writing(
    feed: WebhookStore, writers: list[Storage], pending: list[EventRecord], clock: ManualClock
) -> tuple[list[int], int]:
    """The seqs a reader collects page by page while eight tasks over the writers' pools feed
    the events in batches of four (and now and then record an own event matched), then once
    they are done; and how many own events there were."""
    batches = [pending[n : n + 4] for n in range(0, len(pending), 4)]
    recorded: list[int] = []

    async def write(k: int) -> None:
        store = writers[k % len(writers)].events
        assert store is not None
        for i, batch in enumerate(batches[k::8]):
            await store.resolve(
                [Resolved(e.seq, Resolution.MATCHED, EMAIL, 0, "acme") for e in batch]
            )
            if i % 4 == 0:
                n = 10_000 + 100 * k + i
                await store.record([event(clock, n, email_id=EMAIL, tenant="acme")])
                recorded.append(n)

    seen: list[int] = []
    done = asyncio.Event()

    async def read() -> None:
        while True:
            finished = done.is_set()
            while page := await feed.feed("acme", seen[-1] if seen else 0, (), 50):
                seen.extend(item.seq for item in page)
            if finished:
                return
            await asyncio.sleep(0)

    reader = asyncio.create_task(read())
    await asyncio.gather(*(write(k) for k in range(8)))
    done.set()
    await reader
    return seen, len(recorded)
