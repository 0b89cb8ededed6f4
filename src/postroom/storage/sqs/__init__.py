"""Amazon SQS as the queue apart from the store (POSTROOM_QUEUE_URL=sqs://...).

The bundle for `sqs://` is the store's, with SqsQueue as its Queue and Requeue and the SQS
connection's lifecycle beside the store's. Design and limits: docs/sqs.md.
"""

from dataclasses import replace

from postroom.ports.clock import Clock
from postroom.ports.storage import Storage
from postroom.storage.sqs.client import parse_url
from postroom.storage.sqs.lifecycle import SqsLifecycle
from postroom.storage.sqs.messages import SqsMessages
from postroom.storage.sqs.queue import SqsQueue


def open_storage(url: str, store: Storage, clock: Clock) -> Storage:
    """`sqs://REGION/QUEUE_NAME?endpoint_url=...&wait=5` beside `store`, which must offer
    Claims (the SQL and memory engines do); ValueError naming the problem."""
    if store.claims is None:
        raise ValueError("this store cannot serve a queue apart from it")
    messages = SqsMessages(parse_url(url), clock)
    queue = SqsQueue(messages, store.queue, store.claims, store.lifecycle, clock)
    # No wake: workers wait on SQS's long polling, not on the store's notifications. No
    # recording acks: the store's would settle its own row, never the SQS message.
    lifecycle = SqsLifecycle(messages)
    return replace(
        store,
        queue=queue,
        requeue=queue,
        queue_lifecycle=lifecycle,
        wake=None,
        recording_acks=None,
    )
