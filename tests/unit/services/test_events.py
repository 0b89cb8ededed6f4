"""Provider events recorded, matched to emails and recipients, and acted on (memory engine,
held to the same contract as the durable ones)."""

from typing import Any

import pytest

from postroom.addresses.validator import parse_with_email_validator
from postroom.domain.events import Bounce, EventType, ProviderEvent, RejectReason, digest_of
from postroom.domain.states import State
from postroom.domain.suppression import Reason
from postroom.ports.inbound import Received
from postroom.ports.queue import Event
from postroom.ports.storage import Storage
from postroom.ports.webhooks import Endpoint
from postroom.services.addresses import AddressKeys
from postroom.services.content import Content, NoCipher
from postroom.services.events import MATCH_PATIENCE, ProcessEvents, RecordEvents
from postroom.services.recipients import Recipients
from postroom.services.submit import SubmitEmail
from postroom.services.suppressions import SuppressionList
from postroom.storage.memory import memory_storage
from tests.conftest import ManualClock

ANN, BOB = "ann@example.com", "bob@example.com"


class World:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.storage: Storage = memory_storage(clock)
        assert self.storage.events is not None
        assert self.storage.suppressions is not None
        content = Content(NoCipher())
        self.keys = AddressKeys(content)
        self.record = RecordEvents(self.storage.events, self.keys, clock)
        self.suppressions = SuppressionList(self.storage.suppressions, self.keys, clock)
        self.process = ProcessEvents(
            self.storage.events, self.storage.emails, self.suppressions, self.keys, content, clock
        )
        self.recipients = Recipients(self.storage.events, self.storage.emails, content)
        self.submit = SubmitEmail(self.storage.queue, clock, parse_with_email_validator)

    async def sent(self, *to: str, message_id: str = "msg-1") -> str:
        """An email sent through "mailgun", which gave it `message_id`."""
        data: dict[str, Any] = {"from": "s@example.com", "to": list(to), "subject": "Hi"}
        submitted = await self.submit(data, tenant="acme")
        (lease,) = await self.storage.queue.lease(1, 30)
        event = Event(self.clock.now(), State.SENT, "mailgun", message_id, "sent", "http_200")
        assert await self.storage.queue.ack(lease, event)
        return submitted.result.id

    async def report(self, *events: ProviderEvent, provider: str = "mailgun") -> None:
        await self.record(provider, Received(list(events)))

    async def states(self, email_id: str) -> tuple[list[str], str | None]:
        status = await self.storage.emails.status(email_id)
        assert status is not None
        reports, derived = await self.recipients(status)
        return [str(r.state.state) for r in reports], derived


def event(
    kind: EventType,
    recipient: str,
    *,
    email_id: str | None = None,
    message_id: str | None = None,
    event_id: str | None = None,
    bounce: Bounce | None = None,
    at: float = 1_800_000_000.0,
) -> ProviderEvent:
    return ProviderEvent(
        kind,
        recipient,
        message_id,
        email_id,
        event_id,
        digest_of(f"{kind}{recipient}{at}{event_id}".encode()),
        at,
        RejectReason.BOUNCED if kind is EventType.BOUNCED else None,
        bounce,
    )


@pytest.fixture
def world(clock: ManualClock) -> World:
    return World(clock)


async def test_matched_by_correlation_id_per_recipient(world: World) -> None:
    """A bounce for one recipient and a delivery for the other: each has its own state."""
    email_id = await world.sent(ANN, BOB)
    await world.report(
        event(EventType.BOUNCED, ANN, email_id=email_id, bounce=Bounce.HARD, event_id="1"),
        event(EventType.DELIVERED, BOB, email_id=email_id, event_id="2"),
    )
    assert await world.process() == 2
    assert await world.states(email_id) == (["bounced", "delivered"], "delivered")


async def test_matched_by_provider_message_id(world: World) -> None:
    """Without the correlation id, the provider's message id from the attempts table matches."""
    email_id = await world.sent(ANN, message_id="mg-77")
    await world.report(event(EventType.DELIVERED, ANN, message_id="mg-77", event_id="1"))
    await world.process()
    assert await world.states(email_id) == (["delivered"], "delivered")


async def test_out_of_order_and_twice(world: World) -> None:
    """A late delivery after a bounce, and the bounce again, leave one bounce that wins."""
    email_id = await world.sent(ANN)
    bounce = event(EventType.BOUNCED, ANN, email_id=email_id, bounce=Bounce.HARD, event_id="b")
    await world.report(bounce)
    await world.report(event(EventType.DELIVERED, ANN, email_id=email_id, event_id="d"), bounce)
    await world.process()
    status = await world.storage.emails.status(email_id)
    assert status is not None
    (report,), derived = await world.recipients(status)
    assert [e.type for e in report.events].count(EventType.BOUNCED) == 1
    assert (report.state.state, derived) == (EventType.BOUNCED, "bounced")


async def test_hard_bounce_suppresses_for_the_tenant(world: World) -> None:
    """A hard bounce puts the address on its tenant's list, with its source."""
    email_id = await world.sent(ANN)
    await world.report(
        event(EventType.BOUNCED, ANN, email_id=email_id, bounce=Bounce.HARD, event_id="1")
    )
    await world.process()
    (entry,) = await world.suppressions.show("acme", "Ann@Example.com")
    assert (entry.reason, entry.email_id, entry.provider) == (
        Reason.HARD_BOUNCE,
        email_id,
        "mailgun",
    )
    assert await world.suppressions.blocked("acme", [BOB, ANN], ()) == {1}
    assert await world.suppressions.blocked("other", [ANN], ()) == set()


async def test_three_soft_bounces_suppress_for_a_while(world: World) -> None:
    """Two soft bounces suppress nothing; the third suppresses the address for a week."""
    for n in range(3):
        email_id = await world.sent(ANN, message_id=f"m{n}")
        await world.report(
            event(EventType.BOUNCED, ANN, email_id=email_id, bounce=Bounce.SOFT, event_id=str(n))
        )
        await world.process()
        entries = await world.suppressions.show("acme", ANN)
        assert bool(entries) == (n == 2)
    assert entries[0].reason is Reason.REPEATED_SOFT_BOUNCE
    assert entries[0].expires_at == pytest.approx(world.clock.now() + 7 * 24 * 3600)


async def test_unknown_email_waits_then_is_kept_unmatched(world: World) -> None:
    """An event for no known email is looked at again, then kept as unmatched and counted."""
    await world.report(event(EventType.DELIVERED, ANN, message_id="nobody", event_id="1"))
    assert await world.process() == 1
    assert await world.process() == 0  # not due again yet
    assert world.storage.events is not None
    assert (await world.storage.events.counts())["pending"] == 1
    world.clock.advance(MATCH_PATIENCE + 1)
    assert await world.process() == 1
    assert (await world.storage.events.counts())["unmatched"] == 1


async def test_the_event_arriving_before_the_settle_is_matched_later(world: World) -> None:
    """An event naming a provider id not recorded yet matches once the settle records it."""
    await world.report(event(EventType.DELIVERED, ANN, message_id="early", event_id="1"))
    await world.process()
    email_id = await world.sent(ANN, message_id="early")
    world.clock.advance(10)
    await world.process()
    assert await world.states(email_id) == (["delivered"], "delivered")


async def test_own_events_wake_the_dispatcher_only_when_they_made_messages(
    world: World, clock: ManualClock
) -> None:
    """Postroom's own events tell `on_fed` only once a webhook endpoint took a message."""
    assert world.storage.events is not None
    assert world.storage.webhooks is not None
    woken: list[None] = []
    record = RecordEvents(
        world.storage.events, world.keys, clock, on_fed=lambda: woken.append(None)
    )
    email_id = await world.sent(ANN)
    await record.own(email_id, "acme", [0], EventType.SENT, "")
    assert woken == []
    now = clock.now()
    endpoint = Endpoint("ep_1", "acme", "https://hooks.example.com/1", (), "", True, (), now, now)
    await world.storage.webhooks.create_endpoint(endpoint)
    await record.own(email_id, "acme", [0], EventType.FAILED, "")
    assert woken == [None]
