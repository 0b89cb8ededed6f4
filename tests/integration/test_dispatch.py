"""The dispatcher (services/dispatch.py) over the memory store, a test clock and the real HTTP
sender, against a local aiohttp receiver: what each answer decides, as the store then holds it."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from postroom.domain.events import EventType
from postroom.domain.webhooks import DISABLE_AFTER, ENDPOINT_DISABLED, SCHEDULE
from postroom.outbound.guard import check_url, parse_cidrs
from postroom.outbound.http import HttpWebhookSender
from postroom.ports.storage import Storage
from postroom.ports.webhooks import WebhookStore
from postroom.services.addresses import AddressKeys
from postroom.services.content import Content, NoCipher
from postroom.services.dispatch import PURGED, DispatchWebhooks
from postroom.services.events import RecordEvents
from postroom.services.feed import Addresses, Payloads
from postroom.services.webhook_endpoints import Endpoints
from postroom.storage.memory import memory_storage
from tests.conftest import ManualClock

EMAIL = "01900001-0000-7000-8000-000000000000"


@dataclass
class Answers:
    """What the receiver answers, in turn; the last one for ever after."""

    statuses: list[tuple[int, dict[str, str]]] = field(default_factory=lambda: [(200, {})])
    seen: list[str] = field(default_factory=list)
    held: asyncio.Event | None = None  # set: answers wait until it is
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # a request came

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(request.headers["webhook-id"])
        self.arrived.set()
        if self.held is not None:
            await self.held.wait()
        status, headers = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return web.Response(status=status, headers=headers, text="answer")


@dataclass
class World:
    clock: ManualClock
    storage: Storage
    store: WebhookStore
    endpoints: Endpoints
    dispatch: DispatchWebhooks
    record: RecordEvents
    answers: Answers
    url: str

    async def event(self, n: int = 0) -> None:
        await self.record.own(EMAIL, "default", [n], EventType.DELIVERED, "")


@pytest.fixture
async def world() -> AsyncIterator[World]:
    answers = Answers()
    app = web.Application()
    app.router.add_post("/hook", answers.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    clock = ManualClock()
    storage = memory_storage(clock)
    assert storage.webhooks is not None
    assert storage.events is not None
    content = Content(NoCipher())
    endpoints = Endpoints(storage.webhooks, content, clock, check_url)
    sender = HttpWebhookSender(allowed=parse_cidrs("127.0.0.0/8"), timeout=5)
    payloads = Payloads(Addresses(storage.sealed, content))
    dispatch = DispatchWebhooks(
        storage.webhooks, sender, payloads, endpoints, clock, rand=lambda: 0.5
    )
    record = RecordEvents(storage.events, AddressKeys(content), clock)
    url = f"http://127.0.0.1:{port}/hook"
    yield World(clock, storage, storage.webhooks, endpoints, dispatch, record, answers, url)
    await sender.close()
    await runner.cleanup()


async def test_a_2xx_delivers_once(world: World) -> None:
    await world.endpoints.create("default", world.url, (), "")
    await world.event()
    assert await world.dispatch.deliver_once() == 1
    assert await world.dispatch.deliver_once() == 0
    assert await world.store.counts() == {"pending": 0, "delivered": 1, "failed": 0}


async def test_failures_follow_the_schedule_then_fail(world: World) -> None:
    await world.endpoints.create("default", world.url, (), "")
    world.answers.statuses = [(500, {})]
    await world.event()
    for attempt in range(1, len(SCHEDULE) + 1):
        assert await world.dispatch.deliver_once() == 1, attempt
        # Not due again before its wait (rand 0.5: exactly the schedule's).
        if attempt < len(SCHEDULE):
            world.clock.advance(SCHEDULE[attempt] - 0.01)
            assert await world.dispatch.deliver_once() == 0
            world.clock.advance(0.01)
    assert await world.store.counts() == {"pending": 0, "delivered": 0, "failed": 1}
    # Eight attempts of one message, under one webhook-id.
    assert world.answers.seen == [world.answers.seen[0]] * len(SCHEDULE)


async def test_retry_after_is_honoured(world: World) -> None:
    await world.endpoints.create("default", world.url, (), "")
    world.answers.statuses = [(429, {"Retry-After": "120"}), (200, {})]
    await world.event()
    await world.dispatch.deliver_once()
    world.clock.advance(119)
    assert await world.dispatch.deliver_once() == 0
    world.clock.advance(1)
    assert await world.dispatch.deliver_once() == 1
    assert (await world.store.counts())["delivered"] == 1


async def test_five_days_of_failures_disable_and_the_other_endpoints_hear_of_it(
    world: World,
) -> None:
    failing, _ = await world.endpoints.create("default", world.url, ["email.delivered"], "")
    watcher, _ = await world.endpoints.create("default", world.url, [ENDPOINT_DISABLED], "")
    world.answers.statuses = [(500, {})]
    await world.event(0)
    await world.dispatch.deliver_once()
    world.clock.advance(DISABLE_AFTER)
    await world.event(1)  # a new event, failing too, five days after the first failure
    await world.dispatch.deliver_once()
    shown = await world.endpoints.get("default", failing.id)
    assert shown is not None
    assert not shown.enabled
    assert shown.disabled_reason == "every attempt failed for 5 days"
    feed = await world.store.feed("default", 0, [ENDPOINT_DISABLED], 10)
    assert len(feed) == 1
    # The notice goes to the watcher only (it answers 500 too: one attempt is enough here).
    leased = await world.store.lease(10, world.clock.now() + 1, 60)
    assert {item.endpoint.id for item in leased} == {watcher.id}


async def test_a_message_whose_event_was_purged_fails_saying_so(world: World) -> None:
    endpoint, _ = await world.endpoints.create("default", world.url, (), "")
    await world.event()
    assert world.storage.events is not None
    await world.storage.events.purge_events(world.clock.now() + 1)
    await world.dispatch.deliver_once()
    attempts = await world.store.attempts("default", endpoint.id, 10)
    assert [a.error for a in attempts] == [PURGED]
    assert world.answers.seen == []


async def test_a_message_leased_ahead_too_long_is_left_to_lapse(world: World) -> None:
    """With its one slot held by a slow answer, the message leased ahead waits; once its lease
    has less left than an attempt may take, it is not started (another lease could send it
    beside), and it goes out on a later lease, under its own webhook-id."""
    await world.endpoints.create("default", world.url, (), "")
    await world.event(0)
    await world.event(1)
    world.answers.held = asyncio.Event()
    sender = HttpWebhookSender(allowed=parse_cidrs("127.0.0.0/8"), timeout=5)
    payloads = Payloads(Addresses(world.storage.sealed, Content(NoCipher())))
    dispatch = DispatchWebhooks(
        world.store, sender, payloads, world.endpoints, world.clock, concurrency=1, timeout=5
    )
    stop = asyncio.Event()
    running = asyncio.create_task(dispatch.run(stop, asyncio.Event()))
    await asyncio.wait_for(world.answers.arrived.wait(), 5)
    world.clock.advance(9)  # the lease (5 + 10 s) has 6 s left: less than 5 + 2
    world.answers.held.set()
    await asyncio.sleep(0.5)  # the first answer frees the slot within milliseconds
    stop.set()
    await running
    await sender.close()
    assert len(world.answers.seen) == 1
    assert (await world.store.counts())["delivered"] == 1
    world.clock.advance(6)  # the lapsed lease has ended: the message is due again
    assert await world.dispatch.deliver_once() == 1
    assert world.answers.seen == ["evt_1", "evt_2"]
    assert await world.store.counts() == {"pending": 0, "delivered": 2, "failed": 0}
