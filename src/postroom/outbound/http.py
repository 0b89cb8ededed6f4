"""The WebhookSender on aiohttp: POSTs to users' endpoints, connecting only where guard.py
allows.

The address is judged where the connection is made, not before: the connector resolves each
host through `GuardedResolver`, with its DNS cache off, so every new connection is checked
against the addresses it will actually use, and a name that changes its answer between two
attempts (DNS rebinding) is judged on the new answer. Hosts that are IP literals never reach a
resolver in aiohttp (`TCPConnector._resolve_host`), so `post` judges them itself first (once
per URL: what an address is cannot change, only what a name resolves to).
"""

import socket
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import ip_address

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from postroom.outbound.guard import HTTPS_REQUIRED, Network, plain_http_allowed, refusal
from postroom.ports.webhooks import Response

TIMEOUT = 15.0  # seconds for a whole attempt: connecting, sending, the answer
# Enough for any sensible answer to be read to its end, so its connection goes back to the
# pool; a longer one is cut there and its connection dropped.
READ_LIMIT = 64 * 1024
BODY_KEPT = 1024  # bytes of the answer kept, for the attempt log
LIMIT = 100  # connections per scheme
# One slow receiver may hold at most half the pool: the others' webhooks keep flowing.
LIMIT_PER_HOST = 50
TARGETS_KEPT = 1024  # endpoint URLs whose parse is kept


class RefusedAddressError(OSError):
    """A resolved address the guard refuses. An OSError because aiohttp wraps what a resolver
    raises in ClientConnectorError only when it is one; `reason` names no part of the URL."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def verdict(host: str, plain: bool, allowed: Sequence[Network]) -> str:
    """Why no connection may be made to the IP address `host` (over plain http when `plain`),
    "" when one may."""
    try:
        ip = ip_address(host)
    except ValueError:
        # 127.1, 2130706433, 127.0.0.1.: forms the OS would still map onto an address.
        return "not a canonical IP address"
    reason = refusal(ip, allowed)
    if not reason and plain and not plain_http_allowed(ip, allowed):
        return HTTPS_REQUIRED
    return reason


class GuardedResolver(AbstractResolver):
    """Resolves through `inner`, then refuses the whole answer when any address in it is
    refused. Not just the bad ones dropped: a name answering with a public and a private
    address is either misconfigured or rebinding, and dropping addresses would make where the
    webhook goes depend on the order of an attacker's answers; refusing is the same every time
    and tells the endpoint's owner what is wrong."""

    def __init__(
        self, inner: AbstractResolver, allowed: Sequence[Network], plain: bool, owns_inner: bool
    ) -> None:
        self._inner = inner
        self._allowed = tuple(allowed)
        self._plain = plain
        self._owns_inner = owns_inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not results:
            # aiohttp expects a resolver to raise rather than answer nothing.
            raise socket.gaierror(socket.EAI_NONAME, "no address")
        for result in results:
            reason = verdict(result["host"], self._plain, self._allowed)
            if reason:
                raise RefusedAddressError(reason)
        return results

    async def close(self) -> None:
        if self._owns_inner:
            await self._inner.close()


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: str = ""
    retry_after: str | None = None
    error: str = ""


class HttpWebhookSender:
    """One connection pool per scheme, made lazily in the running loop. `resolver` replaces
    aiohttp's default resolver under the guard (tests answer names with it)."""

    def __init__(
        self,
        allowed: Sequence[Network] = (),
        timeout: float = TIMEOUT,
        read_limit: int = READ_LIMIT,
        limit: int = LIMIT,
        limit_per_host: int = LIMIT_PER_HOST,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._allowed = tuple(allowed)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._read_limit = read_limit
        self._limits = (limit, limit_per_host)
        self._resolver = resolver
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._guards: list[GuardedResolver] = []
        self._targets: dict[str, URL | _Reply] = {}

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Response:
        started = time.perf_counter()
        try:
            reply = await self._attempt(url, headers, body)
        except (aiohttp.ClientError, OSError, ValueError) as error:
            reply = _Reply(0, error=describe(error))
        latency = time.perf_counter() - started
        return Response(reply.status, latency, reply.body, reply.retry_after, reply.error)

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        guards, self._guards = self._guards, []
        for session in sessions:
            await session.close()
        for guard in guards:
            await guard.close()

    async def _attempt(self, url: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        target = self._target(url)
        if isinstance(target, _Reply):
            return target
        session = self._session(target.scheme)
        sent = _with_defaults(headers)
        async with session.post(target, headers=sent, data=body, allow_redirects=False) as answer:
            return await self._read(answer)

    def _target(self, url: str) -> URL | _Reply:
        """The parsed URL, or the reply refusing it. Kept per URL: an endpoint's every message
        parses it alike, and an IP literal's verdict cannot change (a name's is judged on each
        new connection, by the resolver)."""
        found = self._targets.get(url)
        if found is None:
            found = _parsed(url, self._allowed)
            if len(self._targets) >= TARGETS_KEPT:
                self._targets.clear()
            self._targets[url] = found
        return found

    async def _read(self, answer: aiohttp.ClientResponse) -> _Reply:
        status = answer.status
        retry_after = answer.headers.get("Retry-After")
        error = "redirect not followed" if 300 <= status < 400 else ""
        data = bytearray()
        try:
            await _read_capped(answer.content, self._read_limit, data)
        except (aiohttp.ClientError, OSError, ValueError) as failure:
            # The status stands (a 2xx was an acceptance); the body is what arrived of it.
            error = f"response body incomplete: {describe(failure)}"
        text = bytes(data[:BODY_KEPT]).decode("utf-8", errors="replace")
        return _Reply(status, text, retry_after, error)

    def _session(self, scheme: str) -> aiohttp.ClientSession:
        session = self._sessions.get(scheme)
        if session is None or session.closed:
            session = self._new_session(plain=scheme == "http")
            self._sessions[scheme] = session
        return session

    def _new_session(self, plain: bool) -> aiohttp.ClientSession:
        # A pool per scheme because a resolver sees only host and port: the http pool's guard
        # also demands an allowed address, the https one only an address that is not refused.
        inner = self._resolver or DefaultResolver()
        guard = GuardedResolver(inner, self._allowed, plain, owns_inner=self._resolver is None)
        self._guards.append(guard)
        limit, per_host = self._limits
        connector = aiohttp.TCPConnector(
            resolver=guard, use_dns_cache=False, limit=limit, limit_per_host=per_host
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            # No state carried from one receiver's answer to the next request.
            cookie_jar=aiohttp.DummyCookieJar(),
            # The body is only kept for the attempt log: never inflate what a receiver sends.
            auto_decompress=False,
            # Proxies from the environment would connect for us, past the guard.
            trust_env=False,
        )


def _parsed(url: str, allowed: Sequence[Network]) -> URL | _Reply:
    try:
        target = URL(url)
    except ValueError:
        return _Reply(0, error="invalid URL")
    if target.scheme not in ("http", "https") or not target.raw_host:
        return _Reply(0, error="invalid URL")
    host = target.raw_host
    if _is_literal(host):
        reason = verdict(host, target.scheme == "http", allowed)
        if reason:
            return _Reply(0, error=f"refused: {reason}")
    return target


def _is_literal(host: str) -> bool:
    # aiohttp's own test for "skip the resolver" (helpers.is_ip_address), so that every host
    # it would not resolve is judged here.
    return ":" in host or host.replace(".", "").isdigit()


def _with_defaults(headers: Mapping[str, str]) -> dict[str, str]:
    sent = dict(headers)
    if not any(name.lower() == "accept-encoding" for name in sent):
        sent["Accept-Encoding"] = "identity"  # auto_decompress is off: ask for plain bytes
    return sent


async def _read_capped(stream: aiohttp.StreamReader, limit: int, into: bytearray) -> None:
    # Ends at the body's end without one more read to find it: a short answer is usually all
    # there after the first.
    while len(into) < limit and not stream.at_eof():
        chunk = await stream.read(limit - len(into))
        if not chunk:
            return
        into += chunk


def describe(error: BaseException) -> str:
    """A failure in a few words. Never str(error): aiohttp's messages name the host and port."""
    if isinstance(error, aiohttp.ClientConnectorError):
        cause = error.os_error
        if isinstance(cause, RefusedAddressError):
            return f"refused: {cause.reason}"
        if isinstance(cause, socket.gaierror):
            return "name resolution failed"
    return next((text for kind, text in _DESCRIPTIONS if isinstance(error, kind)), "failed")


# First match; the more specific classes before those they derive from.
_DESCRIPTIONS: tuple[tuple[type[BaseException], str], ...] = (
    (TimeoutError, "timeout"),
    (aiohttp.ClientSSLError, "TLS error"),
    (aiohttp.ClientConnectorError, "connection failed"),
    (aiohttp.ServerDisconnectedError, "disconnected before answering"),
    (aiohttp.ClientPayloadError, "invalid response body"),
    (aiohttp.ClientResponseError, "invalid HTTP response"),
    (aiohttp.InvalidURL, "invalid URL"),
    (aiohttp.ClientConnectionError, "connection failed"),
    (ssl.SSLError, "TLS error"),
    (OSError, "connection failed"),
    (ValueError, "invalid request"),
)
