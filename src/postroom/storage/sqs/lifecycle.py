"""The SQS queue's own connection: pinged and closed beside the store's (Storage.ping)."""

from postroom.storage.sqs.messages import SqsMessages


class SqsLifecycle:
    def __init__(self, messages: SqsMessages) -> None:
        self._messages = messages

    async def ping(self) -> None:
        await self._messages.ping()

    async def probe(self) -> None:
        await self._messages.ping()

    async def close(self) -> None:
        await self._messages.close()
