"""The blocking client, on http.client: one connection per request, so one Client can be used
from many threads at once."""

import http.client
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from postroom.client import wire
from postroom.client.errors import ConnectionFailedError, PostroomError
from postroom.client.wire import Accepted, Answer, Base, Call


class Client:
    """Postroom's HTTP API for blocking code.

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
        self._timeout = timeout
        self._retries = retries
        self.suppressions = Suppressions(self._call)
        self.webhooks = Webhooks(self._call)

    def send(self, email: Mapping[str, Any], idempotency_key: str | None = None) -> Accepted:
        """POST /api/v1/email. Without `idempotency_key` a new one is made for this call and
        sent with each of its retries, so a send retried after a lost answer is stored once."""
        key = idempotency_key or wire.new_idempotency_key()
        return wire.accepted(self._exchange_retrying(wire.send(email, key)), key)

    def get(self, email_id: str) -> dict[str, Any]:
        """GET /api/v1/email/{id}: the state and its history, as docs/api.md shows."""
        answer: dict[str, Any] = self._call(wire.get(email_id))
        return answer

    def cancel(self, email_id: str) -> dict[str, Any]:
        """DELETE /api/v1/email/{id}: `{"id", "status": "cancelled"}`; ConflictError once a
        worker took the email."""
        answer: dict[str, Any] = self._call(wire.cancel(email_id))
        return answer

    def events(
        self, after: int = 0, types: Iterable[str] | None = None, limit: int = wire.DEFAULT_PAGE
    ) -> dict[str, Any]:
        """GET /api/v1/events: one page `{"data": [...], "cursor": N}` of the tenant's events
        after the cursor `after`, the payloads its webhooks carry. Pass `cursor` back as
        `after` to go on: nothing is missed or repeated."""
        page: dict[str, Any] = self._call(wire.events(after, types, limit))
        return page

    def _call(self, call: Call) -> Any:
        return wire.result(self._exchange_retrying(call))

    def _exchange_retrying(self, call: Call) -> Answer:
        """The 2xx answer, or the last failure once retrying ends."""
        attempt = 0
        while True:
            try:
                return wire.checked(self._exchange(call))
            except PostroomError as failure:
                delay = wire.retry_delay(failure, attempt, self._retries, call.repeatable)
                if delay is None:
                    raise
            time.sleep(delay)
            attempt += 1

    def _exchange(self, call: Call) -> Answer:
        connection_type = (
            http.client.HTTPSConnection
            if self._base.scheme == "https"
            else http.client.HTTPConnection
        )
        connection = connection_type(self._base.host, self._base.port, timeout=self._timeout)
        try:
            connection.request(
                call.method,
                self._base.prefix + call.path,
                call.body,
                wire.headers(self._api_key, call),
            )
            response = connection.getresponse()
            return Answer(response.status, response.getheader("Retry-After"), response.read())
        except (OSError, http.client.HTTPException) as error:
            raise ConnectionFailedError(f"{type(error).__name__}: {error}") from error
        finally:
            connection.close()


class Suppressions:
    """The calling key's tenant's suppression list (docs/suppressions.md)."""

    def __init__(self, call: Callable[[Call], Any]) -> None:
        self._call = call

    def add(
        self,
        address: str | Iterable[str],
        reason: str = "manual",
        scope: str = "*",
        expires_at: str | None = None,
    ) -> int:
        """Suppress one address or up to 1,000 in one write (all or none); the count stored."""
        answer = self._call(wire.suppressions_add(address, reason, scope, expires_at))
        return int(answer["added"])

    def get(self, address: str) -> list[dict[str, Any]]:
        """The address's entries, one per scope; NotFoundError when it is on no list."""
        entries: list[dict[str, Any]] = self._call(wire.suppression(address))["data"]
        return entries

    def remove(self, address: str, scope: str | None = None) -> int:
        """Remove the address's entries (only `scope`'s when given); NotFoundError for none."""
        return int(self._call(wire.suppressions_remove(address, scope))["removed"])

    def list(
        self, reason: str | None = None, limit: int = wire.DEFAULT_PAGE
    ) -> Iterator[dict[str, Any]]:
        """Every entry (or every one of `reason`), fetched `limit` at a time, following
        `nextCursor` to the last page."""
        cursor = None
        while True:
            page = self._call(wire.suppressions_page(reason, limit, cursor))
            yield from page["data"]
            cursor = page["nextCursor"]
            if cursor is None:
                return


class Webhooks:
    """The calling key's tenant's webhook endpoints (docs/webhooks.md). `create` and `rotate`
    answer with the secret, the only time it is shown."""

    def __init__(self, call: Callable[[Call], Any]) -> None:
        self._call = call

    def create(
        self, url: str, types: Iterable[str] | None = None, description: str = ""
    ) -> dict[str, Any]:
        answer: dict[str, Any] = self._call(wire.webhooks_create(url, types, description))
        return answer

    def list(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call(wire.webhooks_list())["data"]
        return found

    def get(self, endpoint_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._call(wire.webhook(endpoint_id))
        return answer

    def update(self, endpoint_id: str, **fields: Any) -> dict[str, Any]:
        """PATCH url=, types=, description=, enabled=."""
        answer: dict[str, Any] = self._call(wire.webhook(endpoint_id, "PATCH", fields))
        return answer

    def delete(self, endpoint_id: str) -> None:
        self._call(wire.webhook(endpoint_id, "DELETE"))

    def test(self, endpoint_id: str) -> str:
        """Send a `webhook.test` event; its webhook-id."""
        return str(self._call(wire.webhook_action(endpoint_id, "test"))["webhookId"])

    def rotate(self, endpoint_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._call(wire.webhook_action(endpoint_id, "rotate"))
        return answer

    def attempts(
        self, endpoint_id: str, limit: int = 50, before: int | None = None
    ) -> dict[str, Any]:
        """One page of attempts, newest first: `{"data": [...], "nextCursor"}`."""
        page: dict[str, Any] = self._call(wire.webhook_attempts(endpoint_id, limit, before))
        return page

    def replay(
        self,
        endpoint_id: str,
        since: str | None = None,
        until: str | None = None,
        failed_only: bool = False,
        webhook_id: str | None = None,
    ) -> int:
        """Send the endpoint's messages of [since, until) again (or only the failed ones, or
        the one of `webhook_id`); how many."""
        body = wire.replay_body(since, until, failed_only, webhook_id)
        return int(self._call(wire.webhook_action(endpoint_id, "replay", body))["replayed"])
