"""The asyncio client, on aiohttp: one connection pool per client, opened at the first request
inside the running loop; close it with `await client.close()` or `async with`."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

import aiohttp
from yarl import URL

from postroom.client import wire
from postroom.client.errors import ConnectionFailedError, PostroomError
from postroom.client.wire import Accepted, Answer, Base, Call


class AsyncClient:
    """Postroom's HTTP API for asyncio code: the methods of Client, awaited.

    `timeout` is seconds per attempt; `retries` is how many times a request is tried again after
    a connection failure, a timeout, a 429 or a 503 (waiting as `Retry-After` says, unless that
    is more than a minute). Every call raises a PostroomError subclass for an error answer.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = wire.DEFAULT_TIMEOUT,
        retries: int = wire.DEFAULT_RETRIES,
    ) -> None:
        self._base = Base.parse(base_url)
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retries = retries
        self._session: aiohttp.ClientSession | None = None
        self.suppressions = AsyncSuppressions(self._call)
        self.webhooks = AsyncWebhooks(self._call)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the pooled connections; the next request opens new ones."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def send(self, email: Mapping[str, Any], idempotency_key: str | None = None) -> Accepted:
        """POST /api/v1/email. Without `idempotency_key` a new one is made for this call and
        sent with each of its retries, so a send retried after a lost answer is stored once."""
        key = idempotency_key or wire.new_idempotency_key()
        return wire.accepted(await self._exchange_retrying(wire.send(email, key)), key)

    async def get(self, email_id: str) -> dict[str, Any]:
        """GET /api/v1/email/{id}: the state and its history, as docs/api.md shows."""
        answer: dict[str, Any] = await self._call(wire.get(email_id))
        return answer

    async def cancel(self, email_id: str) -> dict[str, Any]:
        """DELETE /api/v1/email/{id}: `{"id", "status": "cancelled"}`; ConflictError once a
        worker took the email."""
        answer: dict[str, Any] = await self._call(wire.cancel(email_id))
        return answer

    async def events(
        self, after: int = 0, types: Iterable[str] | None = None, limit: int = wire.DEFAULT_PAGE
    ) -> dict[str, Any]:
        """GET /api/v1/events: one page `{"data": [...], "cursor": N}` (Client.events)."""
        page: dict[str, Any] = await self._call(wire.events(after, types, limit))
        return page

    async def _call(self, call: Call) -> Any:
        return wire.result(await self._exchange_retrying(call))

    async def _exchange_retrying(self, call: Call) -> Answer:
        """The 2xx answer, or the last failure once retrying ends."""
        attempt = 0
        while True:
            try:
                return wire.checked(await self._exchange(call))
            except PostroomError as failure:
                delay = wire.retry_delay(failure, attempt, self._retries, call.repeatable)
                if delay is None:
                    raise
            await asyncio.sleep(delay)
            attempt += 1

    async def _exchange(self, call: Call) -> Answer:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        # Encoded already: yarl must not decode %2B or %40 in an address back.
        url = URL(self._base.url(call.path), encoded=True)
        try:
            async with self._session.request(
                call.method, url, data=call.body, headers=wire.headers(self._api_key, call)
            ) as response:
                body = await response.read()
                return Answer(response.status, response.headers.get("Retry-After"), body)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ConnectionFailedError(f"{type(error).__name__}: {error}") from error


class AsyncSuppressions:
    """The calling key's tenant's suppression list (docs/suppressions.md)."""

    def __init__(self, call: Callable[[Call], Awaitable[Any]]) -> None:
        self._call = call

    async def add(
        self,
        address: str | Iterable[str],
        reason: str = "manual",
        scope: str = "*",
        expires_at: str | None = None,
    ) -> int:
        """Suppress one address or up to 1,000 in one write (all or none); the count stored."""
        answer = await self._call(wire.suppressions_add(address, reason, scope, expires_at))
        return int(answer["added"])

    async def get(self, address: str) -> list[dict[str, Any]]:
        """The address's entries, one per scope; NotFoundError when it is on no list."""
        entries: list[dict[str, Any]] = (await self._call(wire.suppression(address)))["data"]
        return entries

    async def remove(self, address: str, scope: str | None = None) -> int:
        """Remove the address's entries (only `scope`'s when given); NotFoundError for none."""
        return int((await self._call(wire.suppressions_remove(address, scope)))["removed"])

    async def list(
        self, reason: str | None = None, limit: int = wire.DEFAULT_PAGE
    ) -> AsyncIterator[dict[str, Any]]:
        """Every entry (or every one of `reason`), fetched `limit` at a time, following
        `nextCursor` to the last page: `async for entry in client.suppressions.list()`."""
        cursor = None
        while True:
            page = await self._call(wire.suppressions_page(reason, limit, cursor))
            for entry in page["data"]:
                yield entry
            cursor = page["nextCursor"]
            if cursor is None:
                return


class AsyncWebhooks:
    """The calling key's tenant's webhook endpoints: the methods of Webhooks, awaited."""

    def __init__(self, call: Callable[[Call], Awaitable[Any]]) -> None:
        self._call = call

    async def create(
        self, url: str, types: Iterable[str] | None = None, description: str = ""
    ) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call(wire.webhooks_create(url, types, description))
        return answer

    async def list(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await self._call(wire.webhooks_list()))["data"]
        return found

    async def get(self, endpoint_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call(wire.webhook(endpoint_id))
        return answer

    async def update(self, endpoint_id: str, **fields: Any) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call(wire.webhook(endpoint_id, "PATCH", fields))
        return answer

    async def delete(self, endpoint_id: str) -> None:
        await self._call(wire.webhook(endpoint_id, "DELETE"))

    async def test(self, endpoint_id: str) -> str:
        return str((await self._call(wire.webhook_action(endpoint_id, "test")))["webhookId"])

    async def rotate(self, endpoint_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call(wire.webhook_action(endpoint_id, "rotate"))
        return answer

    async def attempts(
        self, endpoint_id: str, limit: int = 50, before: int | None = None
    ) -> dict[str, Any]:
        page: dict[str, Any] = await self._call(wire.webhook_attempts(endpoint_id, limit, before))
        return page

    async def replay(
        self,
        endpoint_id: str,
        since: str | None = None,
        until: str | None = None,
        failed_only: bool = False,
        webhook_id: str | None = None,
    ) -> int:
        body = wire.replay_body(since, until, failed_only, webhook_id)
        answer = await self._call(wire.webhook_action(endpoint_id, "replay", body))
        return int(answer["replayed"])
