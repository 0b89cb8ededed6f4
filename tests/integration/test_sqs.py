"""The SQS queue on moto's server: what SQS itself holds, beyond the shared contract.

Each test looks at the queue through SQS's own API (what an operator would see in the console):
message bodies, counts, the dead-letter queue. The test clock moves moto's clock (see
tests/support/moto_clock.py), so delays and visibility timeouts lapse without sleeping.
"""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import get_session

from postroom.domain.errors import StorageUnavailableError
from postroom.domain.states import State
from postroom.ports.queue import Event, NewEmail, PutOutcome
from postroom.ports.storage import Storage
from postroom.storage.sqlite import sqlite_storage
from postroom.storage.sqs import open_storage
from postroom.storage.sqs.client import create_queues, parse_url
from postroom.storage.sqs.queue import REFRESH_AFTER
from tests.conftest import ManualClock
from tests.support.moto import MotoServer
from tests.support.server import free_port
from tests.support.sqs import opened_storage, sqs_url

VISIBILITY = 60.0
HOUR = 3600.0


class Console:
    """SQS's API on moto, as an operator would use it."""

    def __init__(self, client: Any, moto: MotoServer) -> None:
        self.client = client
        self.moto = moto

    async def url(self, name: str) -> str:
        return str((await self.client.get_queue_url(QueueName=name))["QueueUrl"])

    async def counts(self, name: str) -> tuple[int, int, int]:
        """Visible, in flight (received, not deleted) and delayed messages."""
        reply = await self.client.get_queue_attributes(
            QueueUrl=await self.url(name), AttributeNames=["All"]
        )
        a = reply["Attributes"]
        return (
            int(a["ApproximateNumberOfMessages"]),
            int(a["ApproximateNumberOfMessagesNotVisible"]),
            int(a["ApproximateNumberOfMessagesDelayed"]),
        )

    async def total(self, name: str) -> int:
        return sum(await self.counts(name))

    async def receive(self, name: str) -> list[dict[str, Any]]:
        reply = await self.client.receive_message(
            QueueUrl=await self.url(name), MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        return list(reply.get("Messages", []))

    async def send(self, name: str, body: str) -> None:
        extra = {"MessageGroupId": body, "MessageDeduplicationId": "x"} if ".fifo" in name else {}
        await self.client.send_message(QueueUrl=await self.url(name), MessageBody=body, **extra)

    async def attributes(self, name: str) -> dict[str, str]:
        reply = await self.client.get_queue_attributes(
            QueueUrl=await self.url(name), AttributeNames=["All"]
        )
        return dict(reply["Attributes"])


@pytest.fixture
async def console(moto_server: MotoServer) -> AsyncIterator[Console]:
    async with get_session().create_client(
        "sqs", region_name="us-east-1", endpoint_url=moto_server.url
    ) as client:
        yield Console(client, moto_server)


@pytest.fixture
async def queue(
    moto_server: MotoServer, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[Storage]:
    async with opened_storage(moto_server, "mail", clock, tmp_path) as opened:
        yield opened


@pytest.fixture
async def fifo(
    moto_server: MotoServer, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[Storage]:
    async with opened_storage(moto_server, "mail.fifo", clock, tmp_path) as opened:
        yield opened


def new(clock: ManualClock, n: int, *, delay: float = 0.0, payload: bytes = b"") -> NewEmail:
    return NewEmail(
        f"0190{n:04d}-0000-7000-8000-000000000000",
        payload or f"payload-{n}".encode(),
        not_before=clock.now() + delay,
        scheduled=delay > 0,
    )


def sent(clock: ManualClock) -> Event:
    return Event(clock.now(), State.SENT, "mailgun")


async def test_the_message_carries_the_id_and_never_the_content(
    queue: Storage, console: Console, clock: ManualClock
) -> None:
    """A 2 MiB email (twice SQS's message limit) is queued as its id; the store keeps the rest."""
    big = b"x" * (2 * 1024 * 1024)
    result = await queue.queue.put(new(clock, 1, payload=big))
    [message] = await console.receive("mail")
    assert message["Body"] == result.id
    [lease] = await queue.queue.lease(10, VISIBILITY)
    assert lease.payload == big


async def test_a_delay_past_fifteen_minutes_is_kept_to_the_second(
    queue: Storage, console: Console, clock: ManualClock
) -> None:
    """Standard queue, sendAt in 40 minutes: SQS holds the message 15 minutes (its maximum);
    received early, it is hidden again until the email is due, never sent before."""
    await queue.queue.put(new(clock, 1, delay=40 * 60))
    assert await console.counts("mail") == (0, 0, 1)  # delayed by SQS itself
    clock.advance(15 * 60)
    assert await queue.queue.lease(10, VISIBILITY) == []  # arrived early: hidden again
    assert await console.counts("mail") == (0, 1, 0)
    clock.advance(25 * 60 - 1)
    assert await queue.queue.lease(10, VISIBILITY) == []
    clock.advance(1)
    assert len(await queue.queue.lease(10, VISIBILITY)) == 1


async def test_fifo_queue_schedules_by_visibility(
    fifo: Storage, console: Console, clock: ManualClock
) -> None:
    """A FIFO queue refuses per-message delays: the message is sent at once, and the first
    receive hides it until the email is due."""
    await fifo.queue.put(new(clock, 1, delay=2 * HOUR))
    assert await console.counts("mail.fifo") == (1, 0, 0)
    assert await fifo.queue.lease(10, VISIBILITY) == []
    clock.advance(2 * HOUR - 1)
    assert await fifo.queue.lease(10, VISIBILITY) == []
    clock.advance(1)
    assert len(await fifo.queue.lease(10, VISIBILITY)) == 1


async def test_a_schedule_of_days_is_carried_by_hidden_and_fresh_messages(
    fifo: Storage, console: Console, clock: ManualClock
) -> None:
    """Visibility lasts 12 hours at most from a receipt: a 3-day schedule is hidden 12 hours at
    a time, and after a few receives a fresh message takes over. One message at a time, none
    in the DLQ, and the email is leased at its time, not a second before."""
    due = clock.now() + 72 * HOUR
    await fifo.queue.put(new(clock, 1, delay=72 * HOUR))
    while clock.now() < due - 1:
        assert await fifo.queue.lease(10, VISIBILITY) == []
        assert await console.total("mail.fifo") == 1
        clock.advance(min(12 * HOUR, due - 1 - clock.now()))
    assert await fifo.queue.lease(10, VISIBILITY) == []
    clock.advance(1)
    [lease] = await fifo.queue.lease(10, VISIBILITY)
    assert await console.total("mail-dlq.fifo") == 0
    assert await fifo.queue.ack(lease, sent(clock))
    assert await console.total("mail.fifo") == 0


async def test_a_second_copy_of_a_message_sends_nothing_twice(
    queue: Storage, console: Console, clock: ManualClock
) -> None:
    """SQS delivers at least once: a duplicate received with the original is deleted, and one
    received while another worker holds the email is hidden until that lease ends, then
    deleted once the email is sent."""
    result = await queue.queue.put(new(clock, 1))
    await console.send("mail", result.id)
    [lease] = await queue.queue.lease(10, VISIBILITY)
    assert await console.total("mail") == 1  # the extra copy went at once
    await console.send("mail", result.id)
    assert await queue.queue.lease(10, VISIBILITY) == []  # held: hidden until the lease ends
    assert await queue.queue.ack(lease, sent(clock))
    clock.advance(VISIBILITY + 1)
    assert await queue.queue.lease(10, VISIBILITY) == []  # sent: deleted
    assert await console.total("mail") == 0


async def test_retries_never_push_a_message_into_the_dead_letter_queue(
    queue: Storage, console: Console, clock: ManualClock
) -> None:
    """Each retry is one more receive of the message; past a few, a fresh message replaces it,
    so many retries never reach the redrive policy's maxReceiveCount (100)."""
    await queue.queue.put(new(clock, 1))
    for attempt in range(1, 3 * REFRESH_AFTER):
        [lease] = await queue.queue.lease(10, VISIBILITY)
        assert lease.attempt == attempt
        retrying = Event(clock.now(), State.RETRYING, "", "down")
        assert await queue.queue.retry(lease, clock.now() + 30, retrying)
        clock.advance(30)
    receives = [
        int(m["Attributes"]["ApproximateReceiveCount"])
        for m in (
            await console.client.receive_message(
                QueueUrl=await console.url("mail"),
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
                VisibilityTimeout=0,
            )
        )["Messages"]
    ]
    assert len(receives) == 1
    assert receives[0] <= REFRESH_AFTER + 1


async def test_a_message_workers_never_settle_moves_to_the_dead_letter_queue(
    moto_server: MotoServer, console: Console, clock: ManualClock, tmp_path: Path
) -> None:
    """A send that crashes its worker every time: after maxReceiveCount receives, SQS's redrive
    policy moves the message to the DLQ; the email stays in the store for `postroom sqs
    requeue` once the cause is fixed."""
    url = sqs_url(moto_server, "poison")
    await create_queues(parse_url(url), visibility=60, max_receives=3)
    clock.followers.append(moto_server.shift)
    queue = open_storage(url, sqlite_storage(str(tmp_path / "store.db"), clock), clock)
    try:
        result = await queue.queue.put(new(clock, 1))
        for _ in range(3):
            assert len(await queue.queue.lease(10, VISIBILITY)) == 1  # then the worker dies
            clock.advance(VISIBILITY + 1)
        assert await queue.queue.lease(10, VISIBILITY) == []
        [dead] = await console.receive("poison-dlq")
        assert dead["Body"] == result.id
        status = await queue.emails.status(result.id)
        assert status is not None
        assert status.state is State.SENDING
        assert await queue.requeue.requeue() == (1, result.id)
        assert len(await queue.queue.lease(10, VISIBILITY)) == 1
    finally:
        await queue.close()


async def test_requeue_heals_a_lost_message(
    queue: Storage, console: Console, clock: ManualClock
) -> None:
    """Messages purged from the queue (or lost): requeue sends one per waiting email."""
    await queue.queue.put(new(clock, 1))
    await queue.queue.put(new(clock, 2, delay=HOUR))
    await console.client.purge_queue(QueueUrl=await console.url("mail"))
    assert await queue.queue.lease(10, VISIBILITY) == []
    assert await queue.requeue.requeue() == (2, new(clock, 2).id)
    [lease] = await queue.queue.lease(10, VISIBILITY)
    assert lease.id == new(clock, 1).id
    assert await queue.queue.ack(lease, sent(clock))
    clock.advance(HOUR)
    assert [lease.id for lease in await queue.queue.lease(10, VISIBILITY)] == [new(clock, 2).id]


async def test_a_queue_that_refuses_means_not_accepted_and_nothing_stored(
    moto_server: MotoServer, clock: ManualClock, tmp_path: Path
) -> None:
    """No queue (never created), or nothing listening: put fails as unavailable (the API's
    503) and the store keeps nothing, so no email is sent that the client was told failed."""
    store = sqlite_storage(str(tmp_path / "store.db"), clock)
    for url in (
        sqs_url(moto_server, "never-created"),
        f"sqs://us-east-1/mail?endpoint_url=http://127.0.0.1:{free_port()}",
    ):
        queue = open_storage(url, store, clock)
        with pytest.raises(StorageUnavailableError):
            await queue.queue.put(new(clock, 1))
        assert await store.emails.status(new(clock, 1).id) is None
        await queue.close()  # closes the store too: open it again for the next URL
        store = sqlite_storage(str(tmp_path / "store.db"), clock)
    await store.close()


async def test_a_retried_key_after_a_refusal_creates_the_email(
    moto_server: MotoServer, clock: ManualClock, tmp_path: Path
) -> None:
    """The idempotency key of a refused request is forgotten with its email: the client's retry
    with the same key, once the queue is there, creates it."""
    url = sqs_url(moto_server, "late")
    store = str(tmp_path / "store.db")
    keyed = NewEmail("0190aaaa-0000-7000-8000-000000000000", b"p", clock.now(), False, "k", b"f")
    queue = open_storage(url, sqlite_storage(store, clock), clock)
    with pytest.raises(StorageUnavailableError):
        await queue.queue.put(keyed)
    await queue.close()
    await create_queues(parse_url(url), visibility=60)
    queue = open_storage(url, sqlite_storage(store, clock), clock)
    try:
        assert (await queue.queue.put(keyed)).outcome is PutOutcome.CREATED
        assert len(await queue.queue.lease(10, VISIBILITY)) == 1
    finally:
        await queue.close()


async def test_a_foreign_message_is_deleted(
    queue: Storage, console: Console, clock: ManualClock
) -> None:
    """A message that is not an email id (someone else's) would come back forever: it goes."""
    await console.send("mail", '{"not": "ours"}')
    assert await queue.queue.lease(10, VISIBILITY) == []
    assert await console.total("mail") == 0


async def test_create_queues_sets_the_redrive_policy_and_is_safe_to_repeat(
    moto_server: MotoServer, console: Console
) -> None:
    """The queue gets the DLQ, the visibility timeout, 14 days of retention and long polling;
    a FIFO queue deduplicates and scales per message group. Running it again changes nothing."""
    for name in ("orders", "orders.fifo"):
        options = parse_url(sqs_url(moto_server, name, wait=10))
        first = await create_queues(options, visibility=120)
        again = await create_queues(options, visibility=120)
        assert again == first
        attributes = await console.attributes(name)
        dlq = await console.attributes(options.dead_letter_name)
        policy = json.loads(attributes["RedrivePolicy"])
        assert policy["deadLetterTargetArn"] == dlq["QueueArn"]
        assert int(policy["maxReceiveCount"]) == 100
        assert attributes["VisibilityTimeout"] == "120"
        assert attributes["MessageRetentionPeriod"] == str(14 * 24 * 3600)
        assert attributes["ReceiveMessageWaitTimeSeconds"] == "10"
        if name.endswith(".fifo"):
            assert attributes["FifoQueue"] == "true"
            assert attributes["DeduplicationScope"] == "messageGroup"
            assert attributes["FifoThroughputLimit"] == "perMessageGroupId"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sqs://us-east-1", "names no queue"),
        ("sqs://us-east-1/a/b", "names no queue"),
        ("sqs://us-east-1/mail?wait=21", "wait must be"),
        ("sqs://us-east-1/mail?color=red", "unknown option 'color'"),
    ],
)
def test_bad_queue_urls_are_named(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_url(url)


async def test_create_queues_refuses_to_change_a_queue_configured_otherwise(
    moto_server: MotoServer,
) -> None:
    """Other attributes on an existing queue: SQS refuses (QueueNameExists; moto's code is
    QueueAlreadyExists), and the message says what to do."""
    options = parse_url(sqs_url(moto_server, "orders"))
    await create_queues(options, visibility=120)
    with pytest.raises(StorageUnavailableError, match="exists with other attributes"):
        await create_queues(options, visibility=30)


async def test_while_the_store_is_down_messages_wait_in_the_queue(
    moto_server: MotoServer, console: Console, clock: ManualClock, tmp_path: Path
) -> None:
    """Received ids that the store cannot claim are hidden for 30 s, and the worker receives
    nothing more until the store answers: receives (which count toward the DLQ) stay few."""
    url = sqs_url(moto_server, "mail")
    await create_queues(parse_url(url), visibility=60)
    clock.followers.append(moto_server.shift)
    unreachable = sqlite_storage(str(tmp_path / "missing" / "store.db"), clock)
    queue = open_storage(url, unreachable, clock)
    try:
        await console.send("mail", new(clock, 1).id)
        with pytest.raises(StorageUnavailableError):
            await queue.queue.lease(10, VISIBILITY)
        assert await console.counts("mail") == (0, 1, 0)
        clock.advance(31)
        with pytest.raises(StorageUnavailableError):
            await queue.queue.lease(10, VISIBILITY)
        assert await console.counts("mail") == (1, 0, 0)  # back, and not received again
    finally:
        await queue.close()
