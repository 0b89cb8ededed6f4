"""Real servers for the provider tests: an aiosmtpd SMTP server on a free 127.0.0.1 port, a
recording proxy in front of moto's SES (moto's AWS server is a fixture of tests/conftest.py), and
a listener that never answers."""

import asyncio
import base64
import email
import email.policy
import json
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from postroom.domain.message import Address, Attachment, Email
from postroom.ports.provider import Outgoing
from postroom.simulator.behaviour import ambiguous_answer
from tests.support.moto import MotoServer
from tests.support.processes import wait_for
from tests.support.server import free_port
from tests.support.tls import self_signed

SMTP_USER = "relay-user"
SMTP_PASSWORD = "relay p@ss:word/1"


# -- SMTP


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    mail_options: list[str]
    data: bytes
    peer: Any
    tls: bool
    authenticated: bool


@dataclass
class RecordingHandler:
    """Records every accepted message; answers the configured reply for chosen recipients."""

    messages: list[Received] = field(default_factory=list)
    # recipient -> full reply line, e.g. "550 5.1.1 No such user"
    refuse: dict[str, str] = field(default_factory=dict)
    # Reply to MAIL on the second and later transactions of one connection (e.g. a 421).
    mail_reply_after_first: str = ""
    # Reply to the message itself instead of accepting it (e.g. "554 5.7.1 spam").
    data_reply: str = ""
    _seen_peers: set[Any] = field(default_factory=set)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.mail_reply_after_first and session.peer in self._seen_peers:
            return self.mail_reply_after_first
        self._seen_peers.add(session.peer)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        content = envelope.original_content or b""
        self.messages.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                mail_options=list(envelope.mail_options),
                data=content,
                peer=session.peer,
                tls=_over_tls(server),
                authenticated=bool(session.authenticated),
            )
        )
        return "250 Message accepted for delivery"


def _over_tls(server: SMTP) -> bool:
    # session.ssl is set by STARTTLS only; the transport knows about implicit TLS too.
    return (
        server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
    )


def _authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode() == SMTP_USER and auth_data.password.decode() == SMTP_PASSWORD
    )
    # handled=False: aiosmtpd then sends the 235/535 reply itself.
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler
    controller: Controller

    def url(
        self,
        *,
        tls: str = "none",
        auth: bool = False,
        password: str = SMTP_PASSWORD,
        **options: str,
    ) -> str:
        """An smtp:// URL for this server (credentials URL-encoded when `auth`)."""
        userinfo = f"{quote(SMTP_USER, safe='')}:{quote(password, safe='')}@" if auth else ""
        query = urlencode({"tls": tls, **options})
        return f"smtp://{userinfo}{self.host}:{self.port}?{query}"


StartSmtp = Callable[..., SmtpServer]


class _Controller(Controller):
    """Records each session, so a test's teardown can wait for every connection to end before
    stopping the server's loop: a connection still open at the stop leaves its socket to the
    garbage collector, which warns about it during some later test."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        session = super().factory()
        self.sessions.append(session)
        return session  # type: ignore[no-any-return]

    def stop_when_idle(self) -> None:
        wait_for(
            lambda: all(session.transport is None for session in self.sessions),
            timeout=10,
            what="the SMTP server's connections to end",
        )
        self.stop()


@pytest.fixture
def smtp_server() -> Iterator[StartSmtp]:
    """Start aiosmtpd servers: `smtp_server(auth=..., starttls=context, implicit=context, ...)`.

    `auth=True` checks AUTH (SMTP_USER / SMTP_PASSWORD): required with TLS, offered in the clear
    (as a relay on a private network might). Every server started is stopped after the test.
    """
    started: list[_Controller] = []

    def start(
        *,
        auth: bool = False,
        starttls: ssl.SSLContext | None = None,
        implicit: ssl.SSLContext | None = None,
        smtputf8: bool = False,
    ) -> SmtpServer:
        handler = RecordingHandler()
        port = free_port()
        kwargs: dict[str, Any] = {"enable_SMTPUTF8": smtputf8}
        if auth:
            # In the clear AUTH is offered but not required: aiosmtpd warns (an error here)
            # about requiring AUTH without TLS.
            tls = starttls is not None or implicit is not None
            kwargs |= {"authenticator": _authenticator, "auth_required": tls}
            kwargs["auth_require_tls"] = tls
        if starttls is not None:
            kwargs |= {"tls_context": starttls, "require_starttls": True}
        controller = _Controller(
            handler, hostname="127.0.0.1", port=port, ssl_context=implicit, **kwargs
        )
        controller.start()
        started.append(controller)
        return SmtpServer("127.0.0.1", port, handler, controller)

    try:
        yield start
    finally:
        for controller in started:
            controller.stop_when_idle()


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, made for this test."""
    cert_file, key_file = self_signed(tmp_path, "relay")
    return Certificate(cert_file, key_file)


# -- SES: the recording proxy in front of moto
#
# Moto records the raw message and the envelope but ignores EmailTags and ConfigurationSetName,
# so the provider talks to this proxy: it keeps each SendEmail request as sent on the wire,
# forwards it to moto, or answers with a canned SES error.


@dataclass
class SesRecorder:
    """Records each request's JSON body; forwards to moto, or answers `canned` instead."""

    upstream: str
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    peers: list[Any] = field(default_factory=list)
    # (HTTP status, SES error code, message) to answer with instead of forwarding.
    canned: tuple[int, str, str] | None = None
    delay: float = 0.0
    # Forward to moto (which takes the email), then answer a 200 that cannot be read instead:
    # "empty", "garbage" or "cut" (postroom.simulator.behaviour.ambiguous_answer).
    ambiguous: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(json.loads(body or b"{}"))
        self.peers.append(
            request.transport.get_extra_info("peername") if request.transport else None
        )
        await asyncio.sleep(self.delay)
        if self.canned is not None:
            status, code, message = self.canned
            # The shape of an AWS REST-JSON error: code in x-amzn-ErrorType, message in the body.
            headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/"}
            return web.json_response({"message": message}, status=status, headers=headers)
        forwarded = await self._forward(request, body)
        if self.ambiguous and forwarded.status == 200:
            return await ambiguous_answer(self.ambiguous, request)
        return forwarded

    async def _forward(self, request: web.Request, body: bytes) -> web.Response:
        drop = {"host", "content-length", "connection"}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in drop}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, self.upstream + request.path_qs, data=body, headers=headers
            ) as reply,
        ):
            keep = ("Content-Type", "x-amzn-RequestId", "x-amzn-ErrorType")
            out = {k: reply.headers[k] for k in keep if k in reply.headers}
            return web.Response(status=reply.status, body=await reply.read(), headers=out)

    def params(self) -> dict[str, Any]:
        [only] = self.requests
        return only

    def raw(self) -> bytes:
        return base64.b64decode(self.params()["Content"]["Raw"]["Data"])


@pytest.fixture
async def recorder(moto_server: MotoServer) -> AsyncIterator[SesRecorder]:
    """The recording proxy on a free local port, in front of a fresh moto."""
    recorder = SesRecorder(moto_server.url)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recorder.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    recorder.url = f"http://127.0.0.1:{port}"
    try:
        yield recorder
    finally:
        await runner.cleanup()


# -- a listener that takes connections and never says a word


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A 127.0.0.1 port whose connections the kernel accepts and nobody ever answers: a
    client's timeout must fire, whatever the protocol."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


# -- one email with every field, and what a receiver must find in it

# A 1x1 PNG: the bytes must survive base64 both ways.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a3c4a7d10000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def full_outgoing() -> Outgoing:
    """An email using every field the model has, with non-ASCII names, subject and text."""
    email = Email(
        sender=Address("sender@example.com", "Postroom Sender"),
        to=(Address("to1@example.com", "Doe, Jane"), Address("to2@example.com")),
        cc=(Address("cc@example.com", "Zoë Cc"),),
        bcc=(Address("hidden@example.com", "Secret Bcc"),),
        reply_to=(Address("replies@example.com", "Replies"),),
        subject="Your order №42 — café receipt",
        text="Hello Zoë,\nyour receipt is attached.\n",
        html='<p>Hello Zoë,</p><img src="cid:logo@postroom">',
        headers=(("X-Campaign", "spring-sale"), ("X-Entity-Ref-ID", "order-42")),
        attachments=(
            Attachment("receipt.pdf", "application/pdf", PDF),
            Attachment("logo.png", "image/png", PNG, content_id="logo@postroom"),
        ),
        tags=("receipt",),
        metadata=(("order_id", "42"), ("shop", "eu-1")),
    )
    return Outgoing("0190d5a3-5b1e-7c3a-9f00-0123456789ab", email, "<0190d5a3@mail.example.com>")


def check_full_message(raw: bytes, outgoing: Outgoing) -> EmailMessage:
    """Assert a received message carries every field of `full_outgoing`; return it parsed."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert str(message["From"]) == "Postroom Sender <sender@example.com>"
    assert str(message["To"]) == '"Doe, Jane" <to1@example.com>, to2@example.com'
    assert str(message["Cc"]) == "Zoë Cc <cc@example.com>"
    assert str(message["Reply-To"]) == "Replies <replies@example.com>"
    assert "Bcc" not in message
    assert b"hidden@example.com" not in raw
    assert str(message["Subject"]) == outgoing.email.subject
    assert message["Message-ID"] == outgoing.message_id
    assert message["X-Campaign"] == "spring-sale"
    assert message["X-Entity-Ref-ID"] == "order-42"
    body = message.get_body(("plain",))
    html = message.get_body(("html",))
    # An 8bit part keeps the wire's CRLF line ends when parsed.
    assert body is not None
    assert _lf(body.get_content()) == outgoing.email.text
    assert html is not None
    assert _lf(html.get_content()).rstrip("\n") == outgoing.email.html
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    assert attachments["receipt.pdf"].get_content_type() == "application/pdf"
    assert attachments["receipt.pdf"].get_content() == PDF
    logo = next(p for p in message.walk() if p["Content-ID"] == "<logo@postroom>")
    assert logo.get_content_type() == "image/png"
    assert logo.get_content_disposition() == "inline"
    assert logo.get_content() == PNG
    return message


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")
