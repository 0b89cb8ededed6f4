"""The connection guard: slots per process and per client, header and idle timeouts.

uvicorn's own `limit_concurrency` counts connections only once a request's headers are in, and
then answers every request 503 while the count is over, so idle connections that trickle their
headers hold every slot forever and a burst of new clients is refused as a whole. Here a
connection is admitted or refused when it is accepted, the first `total` are served, a client
address holds at most `per_client` of them, and a connection still waiting for its first request
headers past `evict_after` seconds gives its slot up to a newcomer when none is free. Every
refusal is our JSON error envelope with `Retry-After`, written on the socket, and the socket is
then closed in stages (RFC 9112 section 9.6) so the client can read it.

Cost: one timer per connection, armed when it is accepted and cancelled when the first request's
headers are complete; a kept-alive connection arms one more per further request while its
headers arrive, the same work uvicorn does for its keep-alive timer. Nothing else per request.
"""

import asyncio
import ipaddress
import logging
import secrets
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from postroom.api.responses import RETRY_AFTER_SECONDS, error_body
from postroom.logs import get_logger, log_event

log = get_logger("api")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """total: admitted connections per process; per_client: per client address (0: no cap);
    header_timeout: seconds a request's headers may take; linger: seconds a refused or
    timed-out connection is read and drained before it is closed; evict_after: seconds a
    connection may wait for its first headers before a newcomer may take its slot."""

    total: int
    per_client: int
    header_timeout: float
    linger: float = 2.0
    evict_after: float = 1.0


class Guarded(Protocol):
    """What the table needs of a connection: a way to hand its slot to a newcomer."""

    def evict(self) -> None: ...


class ConnectionTable:
    """Admitted connections of one process: counts per client address, and those still waiting
    for their first request headers, oldest first (dicts keep insertion order)."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.open = 0
        self._per_client: dict[str, int] = {}
        self._waiting: dict[Guarded, float] = {}
        self._waiting_of: dict[str, dict[Guarded, float]] = {}

    def admit(self, conn: Guarded, client: str, now: float) -> str | None:
        """Take a slot for `conn` (None), evicting a long-waiting connection if that is the only
        way; else the reason it is refused: "client" or "total"."""
        if self.limits.per_client and self._per_client.get(client, 0) >= self.limits.per_client:
            if not self._evict_oldest(self._waiting_of.get(client, {}), now):
                return "client"
        elif self.open >= self.limits.total and not self._evict_oldest(self._waiting, now):
            return "total"
        self.open += 1
        self._per_client[client] = self._per_client.get(client, 0) + 1
        self._waiting[conn] = now
        self._waiting_of.setdefault(client, {})[conn] = now
        return None

    def headers_complete(self, conn: Guarded, client: str) -> None:
        """`conn` has its first request: it keeps its slot and can no longer be evicted."""
        self._waiting.pop(conn, None)
        of_client = self._waiting_of.get(client)
        if of_client is not None:
            of_client.pop(conn, None)
            if not of_client:
                del self._waiting_of[client]

    def release(self, conn: Guarded, client: str) -> None:
        """`conn` gives its slot back (closed, timed out or evicted); call once per admit."""
        self.headers_complete(conn, client)
        self.open -= 1
        left = self._per_client[client] - 1
        if left:
            self._per_client[client] = left
        else:
            del self._per_client[client]

    def _evict_oldest(self, waiting: dict[Guarded, float], now: float) -> bool:
        oldest = next(iter(waiting.items()), None)
        if oldest is None or now - oldest[1] < self.limits.evict_after:
            return False
        oldest[0].evict()  # releases its slot before it returns
        return True


def client_key(peername: Any) -> str:
    """The address a cap counts by: the IP, or for IPv6 its /64, since one host is commonly
    given a whole /64 and can pick any address in it."""
    host = peername[0] if isinstance(peername, tuple) and peername else ""
    if not isinstance(host, str) or ":" not in host:
        return str(host)
    try:
        return str(ipaddress.IPv6Network(f"{host.split('%', 1)[0]}/64", strict=False))
    except ValueError:
        return host


def _answer(status: int, reason: str, short: str, long: str) -> tuple[bytes, bytes]:
    """The head (without its request id line and the blank line) and body of an HTTP/1.1
    answer that closes the connection."""
    body = error_body(status, short, long)
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n"
    )
    if status == 503:
        head += f"retry-after: {RETRY_AFTER_SECONDS}\r\n"
    return head.encode(), body


Answer = tuple[bytes, bytes]
_FULL = _answer(
    503,
    "Service Unavailable",
    "Too many connections",
    "The server has no free connection for this client now; retry after Retry-After seconds.",
)
_HEADERS_TIMEOUT = _answer(
    408, "Request Timeout", "Request timeout", "The request headers arrived too slowly."
)


def _with_id(answer: Answer) -> bytes:
    """The answer with an X-Request-Id of 16 hex digits, like every other answer's."""
    head, body = answer
    request_id = secrets.token_hex(8).encode()
    return b"%sx-request-id: %s\r\n\r\n%s" % (head, request_id, body)


class CountedEvents:
    """Log lines for events a flood repeats on every connection: the first of a kind at once,
    then at most one line per `every` seconds carrying how many happened since (`count`), and
    nothing once they stop. Counts, never addresses: client IPs can be personal data."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._counts: dict[tuple[str, int, str], int] = {}

    def add(self, event: str, level: int, limit: str = "") -> None:
        """Count one `event`; must be called on the running event loop."""
        key = (event, level, limit)
        if key in self._counts:
            self._counts[key] += 1
            return
        self._counts[key] = 0
        self._log(key, 1)
        asyncio.get_running_loop().call_later(self.every, self._flush, key)

    def _flush(self, key: tuple[str, int, str]) -> None:
        count = self._counts.pop(key)
        if count:
            self._log(key, count)
            self._counts[key] = 0
            asyncio.get_running_loop().call_later(self.every, self._flush, key)

    def _log(self, key: tuple[str, int, str], count: int) -> None:
        event, level, limit = key
        fields: dict[str, Any] = {"count": count, "limit": limit} if limit else {"count": count}
        log_event(log, event, level, **fields)


class Draining(asyncio.Protocol):
    """Owns a connection after its last answer: writes it (now, or when the client's request
    starts), half-closes, drops whatever the client still sends and closes at its EOF or after
    `linger` seconds. Closing at once with unread input would make the kernel reset the
    connection, and a reset can destroy the answer before the client reads it (RFC 9112 9.6)."""

    def __init__(self, answer: Answer | None, on_lost: asyncio.BaseProtocol | None) -> None:
        self._answer = answer
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def take_over(self, transport: asyncio.Transport, linger: float, answer_now: bool) -> None:
        self._transport = transport
        transport.set_protocol(self)
        self._timer = asyncio.get_running_loop().call_later(linger, transport.close)
        if answer_now:
            self._send()
        if not transport.is_reading():  # uvicorn pauses reading for flow control
            transport.resume_reading()

    def _send(self) -> None:
        answer, self._answer = self._answer, None
        transport = self._transport
        if answer is None or transport is None or transport.is_closing():
            return
        transport.write(_with_id(answer))
        if transport.can_write_eof():
            transport.write_eof()
        else:  # TLS has no half-close: close_notify after the answer is the best it can do
            transport.close()

    def data_received(self, data: bytes) -> None:
        self._send()

    def eof_received(self) -> bool:
        return False  # the client is done sending: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._on_lost is not None:
            self._on_lost.connection_lost(exc)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the guard in front: a slot from `table` at accept (or
    our 503), and a deadline for each request's headers. Bound to a table by `protocol_class`."""

    table: ClassVar[ConnectionTable]
    events: ClassVar[CountedEvents]
    _client = ""
    _held = False
    _waiting = False
    _begun = False
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._client = client_key(transport.get_extra_info("peername"))
        refused = self.table.admit(self, self._client, self.loop.time())
        if refused is not None:
            self.events.add("connection.refused", logging.WARNING, refused)
            Draining(_FULL, None).take_over(transport, self.table.limits.linger, False)
            return
        self._held = self._waiting = True
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        timeout = self.table.limits.header_timeout
        self._header_timer = self.loop.call_later(timeout, self._headers_too_slow)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        if self._header_timer is None:  # a further request on a kept-alive connection
            self._arm()

    def on_headers_complete(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        if self._waiting:
            self._waiting = False
            self.table.headers_complete(self, self._client)
        super().on_headers_complete()

    def _headers_too_slow(self) -> None:
        """Past the header timeout. A first request that has begun gets our 408; a connection
        that sent nothing, or a later request (a pipelined answer may still be going out), is
        closed without one, as RFC 9110 15.5.9 allows."""
        self._header_timer = None
        self.events.add("connection.header_timeout", logging.INFO)
        if self._waiting and self._begun:
            self._hand_over(_HEADERS_TIMEOUT, answer_now=True)
        else:
            self.transport.close()

    def evict(self) -> None:
        """Give the slot to a newcomer: this connection gets the 503, now if its request has
        begun, else when it starts one."""
        self.events.add("connection.evicted", logging.WARNING)
        self._hand_over(_FULL, answer_now=self._begun)

    def _hand_over(self, answer: Answer, answer_now: bool) -> None:
        self._release()
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        linger = self.table.limits.linger
        Draining(answer, self).take_over(self.transport, linger, answer_now)

    def _release(self) -> None:
        if self._held:
            self._held = self._waiting = False
            self.table.release(self, self._client)

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)


def protocol_class(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """The protocol class for uvicorn's `http=`, with one table for this process."""

    class PostroomHttpProtocol(GuardedHttpToolsProtocol):
        table = ConnectionTable(limits)
        events = CountedEvents()

    return PostroomHttpProtocol


def file_limit_needed(limits: ConnectionLimits) -> int:
    """Descriptors a process may need: its slots, as many draining refusals, and room for
    storage, logs and the listening socket."""
    return 2 * limits.total + 256
