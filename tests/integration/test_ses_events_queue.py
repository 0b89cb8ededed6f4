"""SES events pulled from an SQS queue on moto's server (providers/webhooks/ses_queue.py): SNS
envelopes verified, raw events read, forgeries left in the queue.

The envelopes are signed with the throwaway key A of signatures.json; its certificate URL is
answered from the data, so nothing leaves the machine.
"""

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
from aiobotocore.session import get_session

from postroom.domain.events import EventType
from postroom.providers.webhooks.ses import FetchError, SesInbound
from postroom.providers.webhooks.ses_queue import SesEventQueue
from tests.conftest import conformance
from tests.support.moto import MotoServer

SIGNED = next(
    c for c in conformance("events/amazon_ses.json")["cases"] if c["id"] == "amazon_ses-10"
)
KEY_A = conformance("events/signatures.json")["sns"]["certificates"]["throwaway_key_A"]
TOPIC = json.loads(SIGNED["body"])["TopicArn"]
ENVELOPE = str(SIGNED["body"])
RAW = json.loads(ENVELOPE)["Message"]
FORGED = ENVELOPE.replace("recipient@example.com", "somebody@example.com")
VISIBILITY = 30  # seconds: SQS's default, which the queue keeps


async def fetch(url: str) -> bytes:
    """Key A's certificate at the URL of the data; nothing else answers."""
    if url != KEY_A["url_used_in_vectors"]:
        raise FetchError("http_404")
    return str(KEY_A["pem"]).encode()


@pytest.fixture
async def sqs(moto_server: MotoServer) -> AsyncIterator[Any]:
    """A client of moto's SQS, to send and to count as an operator would."""
    async with get_session().create_client(
        "sqs", region_name="us-east-1", endpoint_url=moto_server.url
    ) as client:
        yield client


@pytest.fixture
async def queue_url(sqs: Any) -> str:
    reply = await sqs.create_queue(QueueName="ses-events")
    return str(reply["QueueUrl"])


def ses_url(queue_url: str, credentials: str = "") -> str:
    """The SES provider URL naming the topic and the queue."""
    query = urlencode({"topic_arns": TOPIC, "events_queue": queue_url})
    return f"ses://{credentials}us-east-1?{query}"


@contextlib.asynccontextmanager
async def opened(url: str) -> AsyncIterator[SesEventQueue]:
    """The queue the URL names, closed afterwards with its inbound."""
    inbound = SesInbound.from_url(url, fetch=fetch)
    queue = SesEventQueue.from_url(url, inbound)
    try:
        yield queue
    finally:
        await queue.close()
        await inbound.close()


@pytest.fixture
async def events(queue_url: str) -> AsyncIterator[SesEventQueue]:
    """The queue, credentials from the environment (moto's dummy ones)."""
    async with opened(ses_url(queue_url)) as queue:
        yield queue


async def counts(sqs: Any, queue_url: str) -> tuple[int, int]:
    """Messages visible, and received but not deleted."""
    reply = await sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    attributes = reply["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


async def test_envelopes_and_raw_events_are_taken_and_done(
    sqs: Any, queue_url: str, events: SesEventQueue
) -> None:
    """A signed envelope and a raw event give their events; done deletes both."""
    for body in (ENVELOPE, RAW):
        await sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    taken = await events.take(10, wait=0)
    found = sorted((e.type, e.recipient, e.event_id or "") for _, r in taken for e in r.events)
    assert found == [
        (EventType.DEFERRED, "recipient@example.com", ""),
        (EventType.DEFERRED, "recipient@example.com", "3d75822a-60e6-599e-a50d-4ddbc8f0e454"),
    ]
    await events.done([handle for handle, _ in taken])
    assert await counts(sqs, queue_url) == (0, 0)


async def test_a_forged_message_is_left_for_the_dead_letter_queue(
    sqs: Any, queue_url: str, events: SesEventQueue, moto_server: MotoServer
) -> None:
    """Not returned, not deleted: it comes back after the visibility timeout, refused again."""
    await sqs.send_message(QueueUrl=queue_url, MessageBody=FORGED)
    await sqs.send_message(QueueUrl=queue_url, MessageBody=ENVELOPE)
    taken = await events.take(10, wait=0)
    assert [e.recipient for _, r in taken for e in r.events] == ["recipient@example.com"]
    await events.done([handle for handle, _ in taken])
    assert (await counts(sqs, queue_url), events.refused) == ((0, 1), {"signature": 1})
    moto_server.shift(VISIBILITY + 1)
    assert await events.take(10, wait=0) == []
    assert (await counts(sqs, queue_url), events.refused) == ((0, 1), {"signature": 2})


async def test_done_deletes_more_than_one_batch(
    sqs: Any, queue_url: str, events: SesEventQueue
) -> None:
    """Twelve handles at once: two DeleteMessageBatch calls (SQS takes ten per call)."""
    entries = [{"Id": str(n), "MessageBody": RAW} for n in range(10)]
    await sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    await sqs.send_message_batch(QueueUrl=queue_url, Entries=entries[:2])
    handles: list[str] = []
    for _ in range(5):  # moto hands out at most ten per receive, maybe fewer
        handles += [handle for handle, _ in await events.take(10, wait=0)]
        if len(handles) == 12:
            break
    assert len(handles) == 12
    await events.done(handles)
    assert await counts(sqs, queue_url) == (0, 0)


def test_the_url_must_name_a_queue() -> None:
    """No events_queue=, or one that is no SQS queue URL: ValueError naming it."""
    inbound = SesInbound([TOPIC], fetch=fetch)
    with pytest.raises(ValueError, match="no events_queue"):
        SesEventQueue.from_url("ses://us-east-1", inbound)
    with pytest.raises(ValueError, match="SQS queue URL"):
        SesEventQueue.from_url("ses://us-east-1?events_queue=https://example.com/q", inbound)
    with pytest.raises(ValueError, match="both or neither"):
        SesEventQueue.from_url(
            ses_url("https://sqs.us-east-1.amazonaws.com/123456789012/q", "key@"), inbound
        )


async def test_credentials_in_the_url_are_used(
    sqs: Any, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ses://KEY:SECRET@REGION signs the calls when the environment holds no credentials."""
    await sqs.send_message(QueueUrl=queue_url, MessageBody=RAW)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    async with opened(ses_url(queue_url, "testing:testing@")) as queue:
        taken = await queue.take(1, wait=0)
        await queue.done([handle for handle, _ in taken])
    assert len(taken) == 1
    assert await counts(sqs, queue_url) == (0, 0)
