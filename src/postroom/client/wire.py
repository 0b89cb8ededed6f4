"""What both clients send and how they read the answers: requests as values, answers as
results or PostroomError, and when to try again. No I/O here; sync.py and aio.py move the bytes.
"""

import json
import random
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from postroom import __version__
from postroom.client.errors import (
    ConnectionFailedError,
    PostroomError,
    RateLimitedError,
    UnavailableError,
    error_from,
)

DEFAULT_TIMEOUT = 30.0  # seconds per attempt, as long as the server waits for a slow body
DEFAULT_RETRIES = 2
DEFAULT_PAGE = 100
# A Retry-After longer than this (a daily quota: until midnight) is not waited for: the error
# is raised at once and says when to come back.
MAX_RETRY_WAIT = 60.0
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 8.0
USER_AGENT = f"postroom-client/{__version__}"


@dataclass(frozen=True, slots=True)
class Call:
    """One request: `path` below the base URL, query included, already percent-encoded."""

    method: str
    path: str
    body: bytes | None = None
    idempotency_key: str | None = None
    # False: sent twice it could act twice (create an endpoint, rotate a secret), so it is
    # not sent again after a lost answer.
    repeatable: bool = True


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    retry_after: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class Accepted:
    """The answer to a send: the email's `id`, `status` (`queued` or `scheduled`, or its current
    status for a repeat), `status_url`, `warnings`, `suppressed` (recipient fields on the
    suppression list), the `idempotency_key` it was sent with, and `repeated`: True when the
    key had been seen (an earlier attempt or call stored the email; it is stored once)."""

    id: str
    status: str
    status_url: str
    idempotency_key: str
    repeated: bool = False
    warnings: tuple[str, ...] = ()
    suppressed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Base:
    """The server's address, split the way http.client needs it."""

    scheme: str
    host: str
    port: int | None
    prefix: str

    @classmethod
    def parse(cls, base_url: str) -> "Base":
        """`http://host:port` or `https://host/prefix`; ValueError for anything else."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http:// or https:// URL with a host")
        return cls(parts.scheme, parts.hostname, parts.port, parts.path.rstrip("/"))

    def url(self, path: str) -> str:
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{netloc}{port}{self.prefix}{path}"


def headers(api_key: str, call: Call) -> dict[str, str]:
    sent = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    sent["User-Agent"] = USER_AGENT
    if call.body is not None:
        sent["Content-Type"] = "application/json"
    if call.idempotency_key is not None:
        sent["Idempotency-Key"] = call.idempotency_key
    return sent


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def send(email: Mapping[str, Any], idempotency_key: str) -> Call:
    return Call("POST", "/api/v1/email", _json(email), idempotency_key)


def get(email_id: str) -> Call:
    return Call("GET", f"/api/v1/email/{_segment(email_id)}")


def cancel(email_id: str) -> Call:
    return Call("DELETE", f"/api/v1/email/{_segment(email_id)}")


def suppressions_page(reason: str | None, limit: int, cursor: str | None) -> Call:
    query = {"limit": str(limit), "reason": reason, "cursor": cursor}
    given = {name: value for name, value in query.items() if value is not None}
    return Call("GET", f"/api/v1/suppressions?{urlencode(given)}")


def suppressions_add(
    addresses: str | Iterable[str], reason: str, scope: str, expires_at: str | None
) -> Call:
    """One entry per address, in one request: all are stored or none (at most 1,000)."""
    listed = [addresses] if isinstance(addresses, str) else list(addresses)
    entry: dict[str, Any] = {"reason": reason, "scope": scope}
    if expires_at is not None:
        entry["expiresAt"] = expires_at
    return Call("POST", "/api/v1/suppressions", _json([{"address": a, **entry} for a in listed]))


def suppression(address: str) -> Call:
    return Call("GET", f"/api/v1/suppressions/{_segment(address)}")


def suppressions_remove(address: str, scope: str | None) -> Call:
    query = f"?{urlencode({'scope': scope})}" if scope is not None else ""
    return Call("DELETE", f"/api/v1/suppressions/{_segment(address)}{query}")


def events(after: int, types: Iterable[str] | None, limit: int) -> Call:
    query = {"after": str(after), "limit": str(limit)}
    if types:
        query["types"] = ",".join(types)
    return Call("GET", f"/api/v1/events?{urlencode(query)}")


def webhooks_create(url: str, types: Iterable[str] | None, description: str) -> Call:
    body: dict[str, Any] = {"url": url, "description": description}
    if types is not None:
        body["types"] = list(types)
    return Call("POST", "/api/v1/webhooks", _json(body), repeatable=False)


def webhooks_list() -> Call:
    return Call("GET", "/api/v1/webhooks")


def webhook(endpoint_id: str, method: str = "GET", fields: Mapping[str, Any] | None = None) -> Call:
    """GET, PATCH (with `fields`) or DELETE one endpoint."""
    body = _json(dict(fields)) if fields is not None else None
    return Call(method, f"/api/v1/webhooks/{_segment(endpoint_id)}", body)


def webhook_action(endpoint_id: str, action: str, body: Mapping[str, Any] | None = None) -> Call:
    """POST test, rotate or replay."""
    encoded = _json(dict(body)) if body is not None else None
    path = f"/api/v1/webhooks/{_segment(endpoint_id)}/{action}"
    return Call("POST", path, encoded, repeatable=action != "rotate")


def webhook_attempts(endpoint_id: str, limit: int, before: int | None) -> Call:
    query = {"limit": str(limit)}
    if before is not None:
        query["before"] = str(before)
    path = f"/api/v1/webhooks/{_segment(endpoint_id)}/attempts?{urlencode(query)}"
    return Call("GET", path)


def replay_body(
    since: str | None, until: str | None, failed_only: bool, webhook_id: str | None
) -> dict[str, Any]:
    given = {"since": since, "until": until, "webhook_id": webhook_id}
    return {"failed_only": failed_only, **{k: v for k, v in given.items() if v is not None}}


def checked(answer: Answer) -> Answer:
    """A 2xx answer as it is; the PostroomError of any other."""
    if not 200 <= answer.status < 300:
        raise error_from(answer.status, answer.body, retry_after(answer.retry_after))
    return answer


def result(answer: Answer) -> Any:
    """The decoded JSON of a 2xx answer; the PostroomError of any other."""
    checked(answer)
    if not answer.body:  # 204 No Content
        return None
    try:
        return json.loads(answer.body)
    except ValueError:
        raise PostroomError(answer.status, "Unexpected answer", "the body is not JSON") from None


def accepted(answer: Answer, idempotency_key: str) -> Accepted:
    body = result(answer)
    return Accepted(
        body["id"],
        body["status"],
        body["statusUrl"],
        idempotency_key,
        answer.status == 200,
        tuple(body.get("warnings", ())),
        tuple(body.get("suppressed", ())),
    )


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date (RFC 9110)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def retry_delay(
    failure: PostroomError, attempt: int, retries: int, repeatable: bool = True
) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None to raise `failure` now. Only a
    request that did not take effect (503: nothing stored; 429: refused) or whose answer was lost
    (the Idempotency-Key makes a send's retry count once) is tried again."""
    if attempt >= retries:
        return None
    if isinstance(failure, ConnectionFailedError):
        return _backoff(attempt) if repeatable else None
    if isinstance(failure, RateLimitedError | UnavailableError):
        if failure.retry_after is None:
            return _backoff(attempt)
        return failure.retry_after if failure.retry_after <= MAX_RETRY_WAIT else None
    return None


def _backoff(attempt: int) -> float:
    # Jittered so that many clients cut off together do not come back together.
    return min(_BACKOFF_CAP, _BACKOFF_BASE * 2.0**attempt) * (0.5 + random.random() / 2)


def _segment(value: str) -> str:
    return quote(value, safe="")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
