"""Coalescing writes: those of one kind that arrive together go in one call to the engine.

Used for PostgreSQL statements (up to 500 rows, well inside its 1 GB limit for one array
parameter) and for SQS batch calls (at most 10 entries each).
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Row = tuple[Any, ...]


class Coalescer:
    """Writes of one kind that arrive together share one call: one round trip, one commit.

    At most `parallel` statements of the kind are in flight; writes that arrive while they are
    busy wait and go together in the next one. A lone write waits for nobody, and under load
    batches grow by themselves (the group commit of docs/storage.md, over the network)."""

    def __init__(
        self,
        write: Callable[[list[Row]], Awaitable[list[Any]]],
        parallel: int,
        max_rows: int = 500,
        max_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self._write = write
        self._parallel = parallel
        self._max_rows = max_rows
        self._max_bytes = max_bytes
        self._pending: list[tuple[Row, asyncio.Future[Any]]] = []
        self._active = 0
        self._starting = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.statements = 0

    async def submit(self, row: Row) -> Any:
        """The write's result once its statement committed; its error otherwise."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        if not self._starting and self._active < self._parallel:
            self._active += 1
            self._starting = True  # one starter at a time, so a burst lands in one batch
            task = asyncio.create_task(self._run())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def drain(self) -> None:
        """Return when every write submitted so far is done."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _run(self) -> None:
        self._starting = False
        try:
            while self._pending:
                await self._flush(self._take())
        finally:
            # No await between the last look at _pending and here: a write submitted
            # after it sees this slot free and starts a task.
            self._active -= 1

    def _take(self) -> list[tuple[Row, asyncio.Future[Any]]]:
        size, count = 0, 0
        for row, _ in self._pending[: self._max_rows]:
            size += sum(len(value) for value in row if isinstance(value, bytes))
            if count and size > self._max_bytes:
                break
            count += 1
        batch, self._pending = self._pending[:count], self._pending[count:]
        return batch

    async def _flush(self, batch: list[tuple[Row, asyncio.Future[Any]]]) -> None:
        self.statements += 1
        try:
            results = await self._write([row for row, _ in batch])
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # done: the caller went away (cancelled); the write stands
                future.set_result(result)
