"""Talking to Amazon SQS: the queue URL's options, the client, errors, and batched calls.

SQS limits this module keeps to: at most 10 entries per batch call, 20 s of long polling,
DelaySeconds up to 900 (standard queues only: a FIFO queue refuses per-message delays), a
visibility timeout of at most 12 hours from a message's receipt, and 1 MiB per message (ours
carry an email id, never the email).
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from postroom.domain.errors import StorageUnavailableError

MAX_BATCH = 10
MAX_DELAY = 900  # seconds, DelaySeconds
MAX_VISIBILITY = 12 * 3600  # seconds, from the receipt of a message
MAX_WAIT = 20  # seconds of long polling
# What `create-queues` sets: the longest retention SQS allows, and receives before a message
# counts as poison (see docs/sqs.md for why it is high: postponing a message is a receive).
RETENTION = 14 * 24 * 3600
MAX_RECEIVES = 100


@dataclass(frozen=True, slots=True)
class SqsOptions:
    region: str
    name: str
    # A local emulator or a VPC endpoint; None for AWS's own.
    endpoint_url: str | None = None
    # Seconds one receive waits for messages when the queue is empty (long polling).
    wait: int = 5

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")

    @property
    def dead_letter_name(self) -> str:
        """The DLQ that `create-queues` makes: NAME-dlq (NAME-dlq.fifo for a FIFO queue)."""
        if self.fifo:
            return self.name.removesuffix(".fifo") + "-dlq.fifo"
        return self.name + "-dlq"


def parse_url(url: str) -> SqsOptions:
    """`sqs://REGION/QUEUE_NAME?endpoint_url=http://host:port&wait=5`; ValueError naming the
    problem."""
    parts = urlsplit(url)
    if parts.scheme != "sqs" or not parts.hostname:
        raise ValueError("expected sqs://REGION/QUEUE_NAME")
    name = parts.path.strip("/")
    if not name or "/" in name:
        raise ValueError("the URL names no queue (sqs://REGION/QUEUE_NAME)")
    query = dict(parse_qsl(parts.query))
    unknown = set(query) - {"endpoint_url", "wait"}
    if unknown:
        raise ValueError(f"unknown option {sorted(unknown)[0]!r}; known: endpoint_url, wait")
    wait = query.get("wait", "5")
    if not wait.isdigit() or int(wait) > MAX_WAIT:
        raise ValueError(f"wait must be 0..{MAX_WAIT} seconds")
    return SqsOptions(parts.hostname, name, query.get("endpoint_url"), int(wait))


class SqsCallError(StorageUnavailableError):
    """SQS refused a call; `code` is its error code (InvalidParameterValue, ...)."""

    def __init__(self, code: str) -> None:
        super().__init__(f"sqs: {code}")
        self.code = code


@contextlib.contextmanager
def sqs_errors() -> Iterator[None]:
    """Failures to reach SQS or of a call as the port's error; the text names the cause only."""
    try:
        yield
    except ClientError as error:
        raise SqsCallError(str(error.response.get("Error", {}).get("Code", "error"))) from None
    except (TimeoutError, BotoCoreError, OSError) as error:
        raise StorageUnavailableError(f"sqs unavailable ({type(error).__name__})") from None


class SqsClient:
    """One aiobotocore client, opened in the running loop on first use, and the queue's URL."""

    def __init__(self, options: SqsOptions) -> None:
        self.options = options
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._urls: dict[str, str] = {}
        self._opening = asyncio.Lock()

    async def client(self) -> Any:
        async with self._opening:
            if self._client is None:
                config = AioConfig(
                    max_pool_connections=64,
                    connect_timeout=5,
                    read_timeout=self.options.wait + 10,
                    retries={"mode": "standard", "max_attempts": 3},
                )
                session = get_session()
                self._client = await self._stack.enter_async_context(
                    session.create_client(
                        "sqs",
                        region_name=self.options.region,
                        endpoint_url=self.options.endpoint_url,
                        config=config,
                    )
                )
            return self._client

    async def url(self, name: str | None = None) -> str:
        """The queue's URL (or another queue's, by name), looked up once."""
        name = name or self.options.name
        if name not in self._urls:
            client = await self.client()
            try:
                reply = await client.get_queue_url(QueueName=name)
            except ClientError as error:
                if "NonExistentQueue" in str(error.response.get("Error", {}).get("Code")):
                    raise StorageUnavailableError(
                        f"sqs: no queue {name!r}; run `postroom sqs create-queues`"
                    ) from None
                raise
            self._urls[name] = reply["QueueUrl"]
        return self._urls[name]

    @contextlib.asynccontextmanager
    async def call(self) -> AsyncIterator[tuple[Any, str]]:
        """The client and the queue URL, with SQS's failures as StorageUnavailableError."""
        with sqs_errors():
            client = await self.client()
            yield client, await self.url()

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None


def failures(reply: dict[str, Any], count: int) -> list[str | None]:
    """Per entry of a batch call (entries are numbered "0".."n-1"), its error code or None."""
    failed = {entry["Id"]: entry.get("Code", "error") for entry in reply.get("Failed", [])}
    return [failed.get(str(n)) for n in range(count)]


@dataclass(frozen=True, slots=True)
class CreatedQueues:
    url: str
    dead_letter_url: str
    max_receives: int


async def create_queues(
    options: SqsOptions, visibility: int, max_receives: int = MAX_RECEIVES
) -> CreatedQueues:
    """Create the queue and its dead-letter queue, or check that they exist as they should.

    SQS's CreateQueue returns the existing queue when its attributes match, and fails with
    QueueNameExists when they differ: running this twice is safe, and never silently changes
    a queue someone configured by hand."""
    sqs = SqsClient(options)
    try:
        with sqs_errors():
            client = await sqs.client()
            fifo = {"FifoQueue": "true"} if options.fifo else {}
            dlq = await _create(
                client, options.dead_letter_name, {"MessageRetentionPeriod": str(RETENTION), **fifo}
            )
            arn = await client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
            redrive = {
                "deadLetterTargetArn": arn["Attributes"]["QueueArn"],
                "maxReceiveCount": str(max_receives),
            }
            attributes = {
                "VisibilityTimeout": str(visibility),
                "MessageRetentionPeriod": str(RETENTION),
                "ReceiveMessageWaitTimeSeconds": str(options.wait),
                "RedrivePolicy": json.dumps(redrive),
                **fifo,
            }
            if options.fifo:
                # Deduplication per email (our ids), and throughput per message group: with
                # a group per email, a FIFO queue is not limited to one group's order.
                attributes |= {
                    "ContentBasedDeduplication": "false",
                    "DeduplicationScope": "messageGroup",
                    "FifoThroughputLimit": "perMessageGroupId",
                }
            queue = await _create(client, options.name, attributes)
            return CreatedQueues(queue, dlq, max_receives)
    finally:
        await sqs.close()


async def _create(client: Any, name: str, attributes: dict[str, str]) -> str:
    try:
        reply = await client.create_queue(QueueName=name, Attributes=attributes)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("QueueNameExists", "QueueAlreadyExists"):
            raise StorageUnavailableError(
                f"sqs: queue {name!r} exists with other attributes; change or delete it first"
            ) from None
        raise
    return str(reply["QueueUrl"])
