"""SES events pulled from an SQS queue subscribed to the SES topic: no public endpoint needed.

`events_queue=QUEUE_URL` on the SES provider URL names the queue; workers `take` messages, record
their events, then mark them `done`, which deletes them. Each message is read by
`SesInbound.receive_queued`:

- an SNS envelope (the subscription's default) is verified exactly as over HTTP: its signature,
  then its topic against `topic_arns=`;
- with RawMessageDelivery on, the body is the SES event itself, with no signature and no topic
  (https://docs.aws.amazon.com/sns/latest/dg/sns-large-payload-raw-message-delivery.html). What
  vouches for it is the queue's access policy: it must let only the SES topic send to the queue
  (an `aws:SourceArn` condition), since whoever may send to it can write any event. Raw events
  have no SNS MessageId either, so each is keyed by a hash of its bytes: keep raw delivery off if
  the topic also posts to Postroom over HTTP, or the same event is recorded once per path.

A message that is refused (forged, not understood, from a topic not allowed) is neither returned
nor deleted: it comes back after the queue's visibility timeout and, once the queue's redrive
policy's maxReceiveCount is reached, moves to its dead-letter queue, where an operator can read
it. Deleting it would destroy the evidence of a misconfiguration or an attack; give the queue a
redrive policy, or refused messages return until the retention period drops them. A message
whose signing certificate could not be fetched is left the same way, to be tried again.

The SQS client's endpoint is the queue URL's scheme and host (a VPC endpoint or an emulator work
as they are); its region is the queue host's, else the SES URL's; its credentials the URL's
KEY:SECRET when given, else the AWS chain. IAM: `sqs:ReceiveMessage` and `sqs:DeleteMessage`.
"""

import asyncio
import contextlib
import logging
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

try:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError as error:  # the `ses` extra brings them
    raise ImportError(
        f"{error.name} is missing; run: pip install 'postroom[ses]'", name=error.name
    ) from None

from postroom.domain.errors import ProviderDownError
from postroom.logs import RateLimitedLog, get_logger, log_event
from postroom.providers.urls import parse_url
from postroom.providers.webhooks.base import Received, WebhookRefusedError
from postroom.providers.webhooks.ses import REGION, URL_OPTIONS, SesInbound

log = get_logger("webhooks.ses_queue")

# SQS's limits: 10 messages per ReceiveMessage and entries per DeleteMessageBatch, 20 s of long
# polling (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html).
MAX_BATCH = 10
MAX_WAIT = 20
_QUEUE_PATH = re.compile(r"/\d{12}/[A-Za-z0-9_-]{1,80}(?:\.fifo)?")
# sqs.REGION.amazonaws.com, or the older REGION.queue.amazonaws.com.
_AWS_HOST = re.compile(
    r"(?:sqs\.(?P<a>[a-z0-9-]+)|(?P<b>[a-z0-9-]+)\.queue)\.amazonaws\.com(?:\.cn)?"
)
_SHAPE = "an SQS queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/ses-events"


class SesEventQueue:
    """The SES events waiting in one SQS queue. `refused` counts refused messages by code."""

    def __init__(
        self,
        queue_url: str,
        inbound: SesInbound,
        *,
        region: str,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.queue_url = queue_url
        self.inbound = inbound
        self.refused: Counter[str] = Counter()
        parts = urlsplit(queue_url)
        self._endpoint = f"{parts.scheme}://{parts.netloc}"
        self._region = region
        self._credentials = credentials
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._opening = asyncio.Lock()
        self._warn = RateLimitedLog()

    @classmethod
    def from_url(cls, url: str, inbound: SesInbound) -> "SesEventQueue":
        """The queue named by `events_queue=` on the SES provider URL
        `ses://[KEY:SECRET@]REGION?events_queue=QUEUE_URL&topic_arns=...`, read through
        `inbound` (closed by whoever made it); ValueError naming the problem."""
        parsed = parse_url(url, "ses", URL_OPTIONS)
        queue_url = parsed.option("events_queue")
        if not queue_url:
            raise ValueError("ses: the URL has no events_queue=")
        if not REGION.fullmatch(parsed.host):
            raise ValueError("ses: expected ses://REGION, e.g. ses://eu-west-1")
        try:
            parts = urlsplit(queue_url)
        except ValueError:
            raise ValueError(f"ses: events_queue must be {_SHAPE}") from None
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or "@" in parts.netloc
            or parts.query
            or parts.fragment
            or not _QUEUE_PATH.fullmatch(parts.path)
        ):
            raise ValueError(f"ses: events_queue must be {_SHAPE}")
        aws = _AWS_HOST.fullmatch(parts.hostname)
        region = (aws.group("a") or aws.group("b")) if aws else parsed.host
        if bool(parsed.user) != bool(parsed.password):
            raise ValueError("ses: credentials are KEY:SECRET, both or neither")
        credentials = (parsed.user, parsed.password) if parsed.user else None
        return cls(queue_url, inbound, region=region, credentials=credentials)

    async def take(self, max_messages: int, wait: float) -> list[tuple[str, Received]]:
        """Up to `max_messages` (1-10 per call, SQS's limit) messages, waiting up to `wait`
        seconds (0-20) for the first when none is there: each message's receipt handle, for
        `done`, and its events, verified and parsed. Refused messages are left in the queue
        (module docstring). ProviderDownError when SQS cannot be reached or refuses."""
        count = max(1, min(MAX_BATCH, max_messages))
        seconds = max(0, min(MAX_WAIT, int(wait)))
        with _sqs_errors():
            client = await self._session_client()
            reply = await client.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=count, WaitTimeSeconds=seconds
            )
        read = await asyncio.gather(*(self._read(m) for m in reply.get("Messages", [])))
        return [taken for taken in read if taken is not None]

    async def _read(self, message: dict[str, Any]) -> tuple[str, Received] | None:
        body = str(message.get("Body", "")).encode()
        try:
            received = await self.inbound.receive_queued(body)
        except WebhookRefusedError as error:
            self.refused[error.code] += 1
            # The SQS MessageId finds the message in the DLQ; nothing from the body is logged.
            self._warn(
                log,
                "ses.queue_message_refused",
                code=error.code,
                message_id=str(message.get("MessageId", "")),
            )
            return None
        return str(message["ReceiptHandle"]), received

    async def done(self, handles: list[str]) -> None:
        """Delete these messages, once their events are recorded: 10 per DeleteMessageBatch
        (SQS's limit), the calls at once. A handle SQS no longer takes (the message's
        visibility lapsed and it was received again) is only logged: that copy comes back, and
        its events are recorded once, by their dedup keys. ProviderDownError as for `take`."""
        batches = [handles[n : n + MAX_BATCH] for n in range(0, len(handles), MAX_BATCH)]
        with _sqs_errors():
            client = await self._session_client()
            replies = await asyncio.gather(
                *(
                    client.delete_message_batch(
                        QueueUrl=self.queue_url,
                        Entries=[{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(batch)],
                    )
                    for batch in batches
                )
            )
        failed = sum(len(reply.get("Failed", [])) for reply in replies)
        if failed:
            log_event(log, "ses.queue_delete_failed", logging.WARNING, count=failed)

    async def _session_client(self) -> Any:
        # One client for the queue's life, created inside the running loop.
        async with self._opening:
            if self._client is None:
                config = AioConfig(
                    connect_timeout=5,
                    read_timeout=MAX_WAIT + 10,  # longer than any long poll
                    retries={"mode": "standard", "max_attempts": 3},
                )
                key, secret = self._credentials or (None, None)
                creator = get_session().create_client(
                    "sqs",
                    region_name=self._region,
                    endpoint_url=self._endpoint,
                    aws_access_key_id=key,
                    aws_secret_access_key=secret,
                    config=config,
                )
                self._client = await self._stack.enter_async_context(creator)
            return self._client

    async def close(self) -> None:
        async with self._opening:
            await self._stack.aclose()
            self._client = None
            self._stack = contextlib.AsyncExitStack()


@contextlib.contextmanager
def _sqs_errors() -> Iterator[None]:
    """SQS's refusals and unreachability as ProviderDownError; the text names the cause only."""
    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "error"))
        raise ProviderDownError(f"sqs_{re.sub(r'[^A-Za-z0-9_.]', '', code)[:64]}") from None
    except (BotoCoreError, TimeoutError, OSError) as error:
        raise ProviderDownError("connection", type(error).__name__) from None
