"""Redrive: dead letters queued again, in the store and in a queue apart from it."""

from postroom.domain.errors import StorageUnavailableError
from postroom.ports.dead import DeadLetters
from postroom.ports.requeue import Requeue


async def redrive(dead: DeadLetters, requeue: Requeue | None, ids: list[str]) -> list[str]:
    """Redrive `ids` in the store; with a queue apart from it (SQS), send each redriven email
    a message. The ids that were dead; StorageUnavailableError naming `postroom sqs requeue`
    when the store changed but not every message went out."""
    done = await dead.redrive(ids)
    if requeue is None or not done:
        return done
    try:
        await requeue.enqueue(done)
    except StorageUnavailableError as error:
        raise StorageUnavailableError(
            f"{error}: redriven in the store but not all queued; run `postroom sqs requeue`"
        ) from None
    return done
