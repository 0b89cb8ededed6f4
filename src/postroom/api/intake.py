"""POST /api/v1/email as a bare ASGI endpoint.

This one route carries nearly all the traffic, so it skips the framework's request objects,
middleware and router (tens of microseconds a request on a small machine) and speaks ASGI
directly. Every other route, and every other method on this path, goes to the Starlette app.
"""

import asyncio
import itertools
import logging
import math
import os
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec

from postroom.api.container import Container
from postroom.api.responses import (
    RETRY_AFTER_SECONDS,
    UNAUTHORIZED_BODY,
    error_body,
    forbidden_body,
    storage_unavailable_body,
)
from postroom.domain.errors import InvalidEmailError, StorageUnavailableError
from postroom.domain.keys import DEFAULT_TENANT, SEND, allows
from postroom.domain.validation import warnings
from postroom.logs import REQUEST_ID, RateLimitedLog, get_logger, log_event
from postroom.ports.queue import PutOutcome
from postroom.services.submit import IdempotencyConflictError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATH = "/api/v1/email"
STATUS_PATH = PATH + "/{}"
IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,255}")
# An incoming X-Request-Id is echoed only when it cannot break a log line or a header.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
SUPPRESSED_WARNING = (
    "recipients in `suppressed` are on the suppression list: they will not be sent to"
)
_json = msgspec.json.Decoder()
_encode = msgspec.json.encode
log = get_logger("api")


class BodyTooLargeError(Exception):
    pass


class Reply(Exception):
    """An early answer: status, JSON body bytes, extra headers."""

    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or []


Headers = tuple[bytes | None, int | None, str | None, str | None, bytes | None]


class IntakeRoute:
    """Wraps the app: takes POST /api/v1/email, hands everything else on. Every answer carries
    X-Request-Id, and REQUEST_ID is set while a request is served, so its log lines carry it."""

    def __init__(self, app: ASGIApp, container: Container) -> None:
        self.app = app
        self.container = container
        # Storage outages fail every request alike: one warning per 10 s, with a count.
        self._rarely = RateLimitedLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["path"] != PATH or scope["method"] != "POST":
            await self.other(scope, receive, send)
        else:
            fields = _headers(scope["headers"])
            request_id = fields[4] or new_request_id()
            token = REQUEST_ID.set(request_id.decode())
            try:
                status, body, headers = await self.answer(scope, receive, fields)
                headers.append((b"x-request-id", request_id))
                await _respond(send, status, body, headers)
            finally:
                REQUEST_ID.reset(token)
            self.container.metrics.request(PATH, status)

    async def other(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Any other route, through the Starlette app, with the request id and the metric."""
        request_id = _request_id(scope["headers"]) or new_request_id()
        answered = 500  # what the client sees if the app fails before it answers

        async def send_with_id(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id)]
            await send(message)

        token = REQUEST_ID.set(request_id.decode())
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
            self.container.metrics.request(route_template(scope), answered)

    async def answer(
        self, scope: Scope, receive: Receive, fields: Headers
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """The answer to one POST /api/v1/email: status, body, headers (a fresh list)."""
        try:
            return await self.submit(scope, receive, fields)
        except Reply as reply:
            return reply.status, reply.body, [*reply.headers]
        except Exception as error:
            log.error("http.unhandled_error", exc_info=error, extra={"fields": {"method": "POST"}})
            return (
                500,
                error_body(
                    500, "Internal error", "Something failed on our side; nothing was accepted."
                ),
                [],
            )

    async def submit(
        self, scope: Scope, receive: Receive, fields: Headers
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        started = time.perf_counter()
        content_type, length, key, authorization, _ = fields
        if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
            raise _rejected(
                400,
                "Bad Idempotency-Key",
                "Send 1 to 255 visible ASCII characters.",
                {"Idempotency-Key": "must be 1 to 255 visible ASCII characters"},
            )
        owner, tenant = await self.owner(authorization)
        if self.container.limit is not None:
            await self.within_limits(owner)
        if not _is_json(content_type):
            raise _rejected(415, "Unsupported media type", "Send the email as application/json.")
        limit = self.container.max_body_bytes
        try:
            async with asyncio.timeout(self.container.body_timeout):
                body = await _read_body(receive, length, limit)
            data = _json.decode(body)
        except TimeoutError:
            raise _rejected(408, "Request timeout", "The body arrived too slowly.") from None
        except BodyTooLargeError:
            raise _rejected(
                413, "Request too large", f"The body may be at most {limit} bytes."
            ) from None
        except RecursionError:
            # msgspec gives up on very deep nesting this way; no email is nested that deep.
            raise _rejected(
                400,
                "Malformed JSON",
                "The body is nested too deeply.",
                {"body": "nested too deeply"},
            ) from None
        except msgspec.DecodeError:
            raise _rejected(
                400, "Malformed JSON", "The body is not valid JSON.", {"body": "not valid JSON"}
            ) from None
        return await self.store(data, key, owner, tenant, started)

    async def owner(self, authorization: str | None) -> tuple[str, str]:
        """The calling key's id and tenant (("", "default") without authentication); a Reply
        401/403/503 when refused (403: a valid key without the `send` scope)."""
        if self.container.authenticate is None:
            return "", DEFAULT_TENANT
        try:
            key = await self.container.authenticate(authorization)
        except StorageUnavailableError:
            raise Reply(503, storage_unavailable_body(), [(b"retry-after", b"5")]) from None
        if key is None:
            log_event(log, "auth.refused", status=401)
            raise Reply(401, UNAUTHORIZED_BODY, [(b"www-authenticate", b"Bearer")])
        if not allows(key.scopes, SEND):
            log_event(log, "auth.forbidden", status=403, scope=SEND)
            raise Reply(403, forbidden_body(SEND))
        return key.id, key.tenant

    async def within_limits(self, owner: str) -> None:
        """Raise the 429 Reply when the key has used up its rate or its day."""
        assert self.container.limit is not None
        verdict = await self.container.limit(owner)
        if verdict.allowed:
            return
        log_event(log, "email.rate_limited", status=429)
        headers = [
            (b"retry-after", str(max(1, math.ceil(verdict.retry_after))).encode()),
            (b"ratelimit-limit", str(verdict.limit).encode()),
            (b"ratelimit-remaining", b"0"),
            (b"ratelimit-reset", str(max(1, math.ceil(verdict.reset))).encode()),
        ]
        body = error_body(
            429, "Too many requests", "This API key is over its sending limit; retry later."
        )
        raise Reply(429, body, headers)

    async def store(
        self, data: Any, key: str | None, owner: str, tenant: str, started: float
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        try:
            submitted = await self.container.submit(data, key, owner, tenant)
        except InvalidEmailError as error:
            log_event(log, "email.rejected", status=400, fields=_top_level(error.errors))
            raise Reply(
                400,
                error_body(
                    400, "Invalid email", "Some fields are invalid; see errors.", error.errors
                ),
            ) from None
        except IdempotencyConflictError:
            raise _rejected(
                409,
                "Idempotency-Key reused",
                "This Idempotency-Key was used in the last 24 hours for a different email.",
            ) from None
        except StorageUnavailableError as error:
            self._rarely(
                log, "email.storage_unavailable", logging.ERROR, error=type(error).__name__
            )
            raise Reply(
                503,
                storage_unavailable_body(),
                [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())],
            ) from None
        result = submitted.result
        created = result.outcome is PutOutcome.CREATED
        if created:
            self.container.metrics.accepted(time.perf_counter() - started)
        log_event(
            log,
            "email.accepted" if created else "email.duplicate",
            id=result.id,
            state=result.state,
            ms=round((time.perf_counter() - started) * 1000, 2),
        )
        url = STATUS_PATH.format(result.id)
        answer = {"id": result.id, "status": result.state, "statusUrl": url}
        notes = warnings(data)
        if submitted.suppressed:
            answer["suppressed"] = list(submitted.suppressed)  # type: ignore[assignment]
            notes = (*notes, SUPPRESSED_WARNING)
        if notes:
            answer["warnings"] = notes  # type: ignore[assignment]
        return (202 if created else 200), _encode(answer), [(b"location", url.encode())]


# A random prefix per process and a counter: 16 hex digits, unique across processes and
# restarts for any practical purpose, without a system call per request.
_ID_PREFIX = os.urandom(4).hex().encode()
_ID_COUNTER = itertools.count(int.from_bytes(os.urandom(3), "big"))


def new_request_id() -> bytes:
    """16 hex digits: unique enough to find one request in a day of logs."""
    return b"%s%08x" % (_ID_PREFIX, next(_ID_COUNTER) & 0xFFFFFFFF)


def _request_id(raw: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in raw:
        if name == b"x-request-id":
            return value if _REQUEST_ID.fullmatch(value) else None
    return None


def route_template(scope: Scope) -> str:
    """The route Starlette matched, as its template (`/api/v1/email/{id}`), or "unmatched":
    a raw path would make one series per email id."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _headers(raw: list[tuple[bytes, bytes]]) -> Headers:
    """Content-Type, Content-Length, Idempotency-Key, Authorization and a usable X-Request-Id,
    in one pass over the headers."""
    content_type = length = key = authorization = request_id = None
    for name, value in raw:
        if name == b"content-type":
            content_type = value
        elif name == b"content-length":
            length = int(value) if value.isdigit() else None
        elif name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"idempotency-key":
            key = value.decode("latin-1")
        elif name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
            request_id = value
    return content_type, length, key, authorization, request_id


def _is_json(content_type: bytes | None) -> bool:
    """application/json, with or without parameters (charset=utf-8)."""
    if not content_type:
        return False
    return content_type.split(b";", 1)[0].strip().lower() == b"application/json"


async def _read_body(receive: Receive, declared: int | None, limit: int) -> bytes:
    """The whole body, or BodyTooLargeError as soon as it passes `limit` bytes; a declared
    Content-Length over the limit is refused before a byte is read."""
    if declared is not None and declared > limit:
        raise BodyTooLargeError
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Reply(400, b"")  # nobody is listening; nothing was stored
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _rejected(status: int, short: str, long: str, errors: dict[str, str] | None = None) -> Reply:
    log_event(log, "email.rejected", status=status)
    return Reply(status, error_body(status, short, long, errors))


def _top_level(errors: dict[str, str]) -> list[str]:
    """The request fields at fault, without header names or metadata keys (client-chosen text)."""
    return sorted({re.split(r"[.\[]", path, maxsplit=1)[0] for path in errors})


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
