"""Any SMTP relay: the message providers/mime.py renders, sent with aiosmtplib.

The envelope is to + cc + bcc; Bcc never appears in the headers. A transaction is all or
nothing: if the server refuses any recipient, the transaction is reset before DATA, so an email
never reaches some of its recipients and then fails (or is resent) for the others. Connections
are kept for reuse for a short while. docs/providers/smtp.md has the URL and the error mapping.
"""

import asyncio
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtplib import (
    SMTP,
    SMTPAuthenticationError,
    SMTPConnectResponseError,
    SMTPException,
    SMTPHeloError,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
)

from postroom.domain.errors import (
    MisconfiguredError,
    PermanentError,
    ProviderDownError,
    ProviderError,
    ThrottledError,
    UnsupportedError,
)
from postroom.ports.provider import Outgoing, Probe, Receipt
from postroom.providers.base import PROBE_CAUSE_CHARS, BaseProvider, detail, outcome_of
from postroom.providers.mime import Envelope, envelope, render, wire_bytes
from postroom.providers.urls import parse_url

DEFAULT_PORTS = {"starttls": 587, "implicit": 465, "none": 25}
_OPTIONS = frozenset({"tls", "timeout", "ca_file"})
# Replies that mean our credentials, not the email: 530 authentication required, 534 mechanism
# too weak, 535 credentials invalid, 538 encryption required for the mechanism (RFC 4954).
_AUTH_REPLIES = frozenset({530, 534, 535, 538})
# Reuse: a few idle connections, each for a short while. Servers drop idle clients (RFC 5321
# suggests after 5 minutes) and NATs drop idle flows silently; a connection found dead before the
# server took anything is replaced once, transparently.
_MAX_IDLE = 8
_IDLE_SECONDS = 30.0


@dataclass(slots=True)
class _Idle:
    client: SMTP
    since: float


@dataclass(frozen=True, slots=True)
class SmtpRequest:
    """The message (flattened once the server's extensions are known) and its envelope."""

    message: EmailMessage
    envelope: Envelope
    message_id: str


@dataclass(frozen=True, slots=True)
class SmtpReply:
    """The server's reply to DATA: it took the message."""

    code: int
    message_id: str


class SmtpProvider(BaseProvider[SmtpRequest, SmtpReply]):
    """Each refusal on the way (connect, AUTH, MAIL, RCPT, DATA) is the server's answer; the
    pure `classify` and `by_reply` turn it into the ProviderError it means, raised by
    `transmit` because the conversation stops there."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: str = "starttls",
        user: str = "",
        password: str = "",
        timeout: float = 15.0,
        ca_file: str = "",
        clock: Callable[[], float] = time.time,
        name: str = "smtp",
    ) -> None:
        super().__init__(clock)  # the Date header's
        self.name = name
        self.host = host
        self.port = port
        self.tls = tls
        self.user = user
        self._password = password
        self.timeout = timeout
        # ca_file replaces the system trust store: for relays with a private CA or self-signed cert.
        self._tls_context = ssl.create_default_context(cafile=ca_file or None)
        self._idle: list[_Idle] = []
        self._closed = False
        self._helo_name: str | None = None

    def __repr__(self) -> str:
        return f"SmtpProvider({self.host}:{self.port}, tls={self.tls})"

    @classmethod
    def from_url(cls, url: str) -> "SmtpProvider":
        """`smtp://user:pass@host:port?tls=starttls|implicit|none&timeout=...&ca_file=...`."""
        parsed = parse_url(url, "smtp", _OPTIONS)
        if not parsed.host or parsed.path not in ("", "/"):
            raise ValueError("smtp: expected smtp://[user:password@]host[:port]")
        if bool(parsed.user) != bool(parsed.password):
            raise ValueError("smtp: give both user and password, or neither")
        port = parsed.port
        tls = parsed.choice("tls", DEFAULT_PORTS, "implicit" if port == 465 else "starttls")
        ca_file = parsed.option("ca_file")
        try:
            return cls(
                parsed.host,
                port or DEFAULT_PORTS[tls],
                tls=tls,
                user=parsed.user,
                password=parsed.password,
                timeout=parsed.timeout(),
                ca_file=ca_file,
                name=parsed.provider_name,
            )
        except (OSError, ssl.SSLError):
            raise ValueError("smtp: ca_file is not a readable PEM file") from None

    def build(self, outgoing: Outgoing, now: float) -> SmtpRequest:
        try:
            return SmtpRequest(render(outgoing, now), envelope(outgoing.email), outgoing.message_id)
        except ValueError as error:
            # A header the message cannot carry (CR/LF): validation should have refused it.
            raise PermanentError("invalid_message", type(error).__name__) from None

    async def transmit(self, request: SmtpRequest) -> SmtpReply:
        try:
            async with asyncio.timeout(self.timeout):
                code = await self._deliver(request.message, request.envelope)
        except ProviderError:
            await asyncio.sleep(0)  # a dropped connection's socket closes in this step (_drop)
            raise
        except (SMTPException, OSError, TimeoutError, ValueError) as error:
            await asyncio.sleep(0)
            raise classify(error) from None
        return SmtpReply(code, request.message_id)

    def parse(self, answer: SmtpReply) -> Receipt:
        # SMTP gives no id of its own: the Message-ID is how the relay's logs name the email.
        return Receipt(self.name, answer.message_id, f"smtp_{answer.code}")

    async def probe(self) -> Probe:
        """Connect, EHLO, STARTTLS when configured, AUTH when credentials are given, QUIT:
        everything a send does before MAIL FROM."""
        client: SMTP | None = None
        try:
            async with asyncio.timeout(self.timeout):
                client = await self._connect()
                await client.quit()
        except (SMTPException, OSError, TimeoutError, ValueError) as error:
            failed = classify(error)
            cause = failed.detail or failed.code
            if failed.code in ("connection", "timeout"):
                cause = f"{failed.code}: {str(error) or type(error).__name__}"
            where = f"{self.host}:{self.port}"
            return Probe(False, outcome_of(failed), f"{where}: {cause}"[:PROBE_CAUSE_CHARS])
        finally:
            if client is not None:
                _drop(client)
            await asyncio.sleep(0)
        return Probe(True)

    async def _deliver(self, message: EmailMessage, envelope: Envelope) -> int:
        client = self._checkout()
        reused = client is not None
        if client is None:
            client = await self._connect()
        try:
            try:
                data = await self._begin(client, message, envelope)
            except (SMTPServerDisconnected, SMTPResponseException) as error:
                # A kept connection the server has since closed (or is closing, 421) fails on
                # its first command, before the server took anything: replace it once.
                if not reused or not _gone(error):
                    raise
                _drop(client)
                client = await self._connect()
                data = await self._begin(client, message, envelope)
            await self._rcpt_all(client, envelope)
            reply = await client.data(data)
        except BaseException:
            _drop(client)
            raise
        self._checkin(client)
        return reply.code

    async def _connect(self) -> SMTP:
        client = SMTP(
            hostname=self.host,
            port=self.port,
            username=self.user or None,
            password=self._password or None,
            use_tls=self.tls == "implicit",
            start_tls=self.tls == "starttls",
            tls_context=self._tls_context,
            timeout=self.timeout,
            local_hostname=self._helo_name,
        )
        try:
            await client.connect()
            # aiosmtplib looks the local name up on each connect; once is enough.
            self._helo_name = client.local_hostname
            if client.is_ehlo_or_helo_needed:
                # The extensions (8BITMIME, SMTPUTF8, SIZE) decide how the message is flattened,
                # so they must be known before MAIL; a very old server may only know HELO.
                try:
                    await client.ehlo()
                except SMTPHeloError:
                    await client.helo()
        except BaseException:
            _drop(client)  # a greeting or EHLO refused: do not leave the socket open
            raise
        return client

    async def _begin(self, client: SMTP, message: EmailMessage, envelope: Envelope) -> bytes:
        """MAIL FROM with the options this server offers; the message flattened to match."""
        data = _flatten(client, message, envelope)
        options = []
        if envelope.utf8:
            if not client.supports_extension("smtputf8"):
                raise UnsupportedError("the server does not offer SMTPUTF8")
            options.append("SMTPUTF8")
        if client.supports_extension("8bitmime"):
            options.append("BODY=8BITMIME")
        if client.supports_extension("size"):
            # RFC 1870: let the server refuse an oversized message before it is sent.
            options.append(f"SIZE={len(data)}")
        await client.mail(envelope.sender, options=options, encoding=_encoding(envelope))
        return data

    async def _rcpt_all(self, client: SMTP, envelope: Envelope) -> None:
        refused: list[SMTPRecipientRefused] = []
        for recipient in envelope.recipients:
            try:
                await client.rcpt(recipient, encoding=_encoding(envelope))
            except SMTPRecipientRefused as error:
                refused.append(error)
        if refused:
            raise refusal(refused)

    def _checkout(self) -> SMTP | None:
        now = time.monotonic()
        while self._idle:
            idle = self._idle.pop()
            if idle.client.is_connected and now - idle.since < _IDLE_SECONDS:
                return idle.client
            idle.client.close()
        return None

    def _checkin(self, client: SMTP) -> None:
        # A send that finishes after close() must not leave its connection behind.
        if not self._closed and len(self._idle) < _MAX_IDLE:
            self._idle.append(_Idle(client, time.monotonic()))
        else:
            client.close()

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for entry in idle:
            try:
                async with asyncio.timeout(self.timeout):
                    await entry.client.quit()
            except (SMTPException, OSError, TimeoutError):
                pass  # the server is going away anyway; close below
            finally:
                entry.client.close()


def _drop(client: SMTP) -> None:
    """Give up on a connection. Aborted rather than closed: a TLS connection's close waits for
    a goodbye the peer may never send, and its socket stays open meanwhile; an abort closes the
    socket at the event loop's next step."""
    if isinstance(client.transport, asyncio.Transport):
        client.transport.abort()
    client.close()


def _encoding(envelope: Envelope) -> str:
    return "utf-8" if envelope.utf8 else "ascii"


def _flatten(client: SMTP, message: EmailMessage, envelope: Envelope) -> bytes:
    # Without 8BITMIME, bodies are re-encoded to quoted-printable/base64; outside an SMTPUTF8
    # transaction, headers use encoded words (the outbox writes the 8BITMIME form).
    eight_bit = client.supports_extension("8bitmime")
    return wire_bytes(message, utf8=envelope.utf8, eight_bit=eight_bit)


def _gone(error: SMTPException) -> bool:
    return isinstance(error, SMTPServerDisconnected) or (
        isinstance(error, SMTPResponseException) and error.code == 421
    )


def refusal(refused: list[SMTPRecipientRefused]) -> ProviderError:
    """One error for the refused recipients: any permanent refusal makes the email fail."""
    worst = max(refused, key=lambda error: error.code)
    return by_reply(worst.code, "; ".join(f"{e.code} {e.message}" for e in refused))


def by_reply(code: int, text: str) -> ProviderError:
    """The error class of an SMTP reply code (docs/design.md); the server's text (it may name
    addresses) becomes the detail, never a log line."""
    said = detail(text)
    if code in _AUTH_REPLIES:
        return MisconfiguredError(f"smtp_{code}", said)
    if 500 <= code < 600:
        return PermanentError(f"smtp_{code}", said)
    if 400 <= code < 500:
        return ThrottledError(f"smtp_{code}", said)
    return ProviderDownError(f"smtp_{code}", said)


def classify(error: Exception) -> ProviderError:
    """The ProviderError for what aiosmtplib (or the socket under it) raised."""
    kind = type(error).__name__
    if isinstance(error, SMTPAuthenticationError) or (
        # A 5xx greeting or EHLO refusal (554 "no service for you") is about us, not the email.
        isinstance(error, SMTPConnectResponseError | SMTPHeloError) and error.code >= 500
    ):
        return MisconfiguredError(f"smtp_{error.code}", detail(error.message))
    if isinstance(error, SMTPResponseException):
        return by_reply(error.code, error.message)
    if isinstance(error, TimeoutError):  # SMTPTimeoutError is one too
        return ProviderDownError("timeout", kind)
    if _caused_by(error, ssl.SSLCertVerificationError):
        return MisconfiguredError("tls_certificate", detail(str(error)))
    if isinstance(error, SMTPServerDisconnected | OSError):  # SMTPConnectError is an OSError
        return ProviderDownError("connection", kind)
    if isinstance(error, SMTPException):
        # STARTTLS or AUTH not offered, no usable AUTH mechanism: the URL does not fit the server.
        return MisconfiguredError("smtp_setup", detail(error.message))
    # An address or header the wire cannot carry (CR/LF, a domain IDNA refuses): validation
    # should have refused it; aiosmtplib and the email package refuse it here.
    return PermanentError("invalid_message", kind)


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, kind):
            return True
        current = current.__cause__
    return False
