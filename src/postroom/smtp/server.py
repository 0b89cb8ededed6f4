"""The SMTP listeners: aiosmtpd's protocol on this process's event loop, with Postroom's limits.

Each listener serves in the event loop the rest of the process runs in (the API's, in `serve`),
so the store, the key cache and the sending limits are the ones the HTTP intake uses. aiosmtpd's
own Controller would run a second loop in a thread; storage objects belong to one loop.
"""

import asyncio
import ipaddress
import logging
import re
import socket
import ssl
import warnings
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP

from postroom.logs import RateLimitedLog, get_logger
from postroom.smtp.handler import SmtpIntake, SubmissionHandler

log = get_logger("smtp")
# aiosmtpd logs each peer, sender and recipient at info level, and warns on every connection
# that AUTH may go without TLS (allowed here from loopback only, handler.handle_AUTH); its
# errors still come through (the formatter keeps a third-party line's template, never its
# arguments).
logging.getLogger("mail.log").setLevel(logging.ERROR)

# aiosmtpd's fixed replies that carry no enhanced status code, and the RFC 3463 one they mean.
_REPLIES = {
    b"552 Error: Too much mail data": b"552 5.3.4 Message too large",
    b"552 Error: message size exceeds fixed maximum message size": (
        b"552 5.3.4 Message size exceeds the fixed maximum message size"
    ),
    b"503 Error: need RCPT command": b"503 5.5.1 No valid recipients: send RCPT TO first",
}
TOO_MANY_CONNECTIONS = b"421 4.7.0 Too many connections from your address; try again later\r\n"
# `<local@domain>` with dot-atoms (RFC 5321 4.1.2), then blanks and parameters: the path
# nearly every client sends, read without the email package's header parser.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_PLAIN_PATH = re.compile(rf"<({_DOT_ATOM}@{_DOT_ATOM})>(?:[ \t]+([^ \t(].*))?[ \t]*", re.DOTALL)


@dataclass(frozen=True)
class SmtpOptions:
    hostname: str
    # The largest message accepted (SIZE), as the API's largest body.
    max_bytes: int
    # Seconds between commands before the connection is closed, and for the whole of DATA.
    idle_timeout: float
    data_timeout: float
    # Open connections per client address (IPv6: per /64); 0: no cap.
    per_client: int
    # Offered as STARTTLS on the plain port, and used on the implicit-TLS port.
    tls: ssl.SSLContext | None = None


class Connections:
    """The open connections of one set of listeners: counted per client address, and closed
    together at shutdown."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.open: dict[str, int] = {}
        self.live: set[asyncio.BaseTransport] = set()

    def admit(self, client: str, transport: asyncio.BaseTransport) -> bool:
        if self.cap and self.open.get(client, 0) >= self.cap:
            return False
        self.open[client] = self.open.get(client, 0) + 1
        self.live.add(transport)
        return True

    def release(self, client: str, transport: asyncio.BaseTransport) -> None:
        self.live.discard(transport)
        left = self.open.get(client, 1) - 1
        if left:
            self.open[client] = left
        else:
            self.open.pop(client, None)


def client_of(peer: Any) -> str:
    """The address connections are counted by: the IPv4 address, or the IPv6 /64 (one host
    usually holds a whole /64)."""
    host = str(peer[0] if isinstance(peer, tuple) else peer).partition("%")[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return host


def _no_delay(transport: asyncio.BaseTransport) -> None:
    """Replies go out at once: SMTP is a reply per command, and Nagle's algorithm would hold a
    reply back until the client's delayed ACK of the previous one (tens of milliseconds)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class SubmissionProtocol(SMTP):
    """aiosmtpd's SMTP with a cap per client, a deadline for DATA and enhanced codes."""

    def __init__(
        self,
        handler: SubmissionHandler,
        counts: Connections,
        options: SmtpOptions,
        refusals: RateLimitedLog,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._counts = counts
        self._data_timeout = options.data_timeout
        self._refusals = refusals
        self._client: str | None = None  # set once admitted
        self._admitted: asyncio.BaseTransport | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Called again after STARTTLS, for the same, already admitted client.
        if self._client is None and not self._refused:
            client = client_of(transport.get_extra_info("peername"))
            if not self._counts.admit(client, transport):
                self._refused = True
                self._refusals(log, "connection.refused", limit="client")
                transport.write(TOO_MANY_CONNECTIONS)  # type: ignore[attr-defined]
                transport.close()
                return
            self._client, self._admitted = client, transport
            _no_delay(transport)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if self._client is not None and self._admitted is not None:
            self._counts.release(self._client, self._admitted)
            self._client = None
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        if not self._refused:
            super().eof_received()
        # False: the transport closes. A client gone before its greeting was written would
        # otherwise leave a half-open connection, counted against its address for good.
        return False

    async def smtp_DATA(self, arg: str) -> None:
        """The whole message must arrive within the data timeout (a slow sender holds a
        connection and memory); then the idle timeout applies again."""
        self._reset_timeout(self._data_timeout)
        await super().smtp_DATA(arg)
        self._reset_timeout()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's reading of a MAIL FROM or RCPT TO argument, (address, parameters), for
        the plain form without its parser (a tenth of a message's CPU). Anything else, and any
        local-part limit, stay aiosmtpd's (tests/unit/smtp/test_server.py holds them equal)."""
        found = _PLAIN_PATH.fullmatch(arg) if not self.local_part_limit else None
        if found is None:
            return super()._getaddr(arg)
        return found.group(1), found.group(2) or ""

    async def push(self, status: str | bytes) -> None:
        raw = status.encode("ascii", "replace") if isinstance(status, str) else status
        await super().push(_REPLIES.get(raw, raw))


@dataclass
class Listeners:
    servers: list[asyncio.Server]
    connections: Connections

    async def close(self) -> None:
        """Stop listening and close every connection. A message whose DATA was cut off got no
        250, so its client sends it again, and its Message-ID keeps it from being stored
        twice."""
        for server in self.servers:
            server.close()
        for transport in list(self.connections.live):
            transport.close()
        for server in self.servers:
            await server.wait_closed()


async def start_listeners(
    intake: SmtpIntake,
    options: SmtpOptions,
    host: str,
    plain_port: int,
    tls_port: int,
    auth_required: bool,
) -> Listeners:
    """Listen on `plain_port` (STARTTLS offered when there is a certificate) and on
    `tls_port` (implicit TLS; needs one); 0 leaves a port off."""
    # aiosmtpd warns once that AUTH may go without TLS; here that is loopback only, decided
    # per connection by handler.handle_AUTH, so the warning says nothing true.
    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
    handler = SubmissionHandler(intake)
    counts = Connections(options.per_client)
    refusals = RateLimitedLog()
    loop = asyncio.get_running_loop()

    def protocol(implicit: bool) -> SubmissionProtocol:
        return SubmissionProtocol(
            handler,
            counts,
            options,
            refusals,
            data_size_limit=options.max_bytes,
            enable_SMTPUTF8=True,
            hostname=options.hostname,
            ident="ESMTP Postroom",
            # STARTTLS on the plain port only: the TLS port is encrypted from the start.
            tls_context=None if implicit else options.tls,
            timeout=options.idle_timeout,
            auth_required=auth_required,
            # AUTH without TLS is allowed from loopback only; handler.handle_AUTH decides.
            auth_require_tls=False,
        )

    servers = []
    if plain_port:
        servers.append(await loop.create_server(lambda: protocol(False), host, plain_port))
    if tls_port:
        assert options.tls is not None, "settings refuse a TLS port without a certificate"
        servers.append(
            await loop.create_server(lambda: protocol(True), host, tls_port, ssl=options.tls)
        )
    return Listeners(servers, counts)


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server context for the API's certificate: TLS 1.2 or newer."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context
