"""The webhook sender against real local receivers: what arrives, what is refused before any
connection is made, and what comes back when a receiver misbehaves."""

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from postroom.outbound.guard import Network, parse_cidrs
from postroom.outbound.http import HttpWebhookSender
from postroom.ports.webhooks import Response
from tests.support.tls import self_signed

LOOPBACK = parse_cidrs("127.0.0.0/8")
HEADERS = {
    "webhook-id": "evt_42",
    "webhook-timestamp": "1800000000",
    "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
    "content-type": "application/json",
    "user-agent": "Postroom-Webhooks",
}
BODY = b'{"type":"email.delivered","data":{"email_id":"019abc"}}'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An aiohttp server on 127.0.0.1 that counts the connections it accepts and records the
    requests it reads; `answer` says what it answers."""

    answer: Handler
    port: int = 0
    connections: int = 0
    seen: list[Seen] = field(default_factory=list)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path_qs, dict(request.headers), body))
        self.entered.set()
        return await self.answer(request)


Serve = Callable[..., Awaitable[Receiver]]
Senders = Callable[..., HttpWebhookSender]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start receivers for one test; all are stopped after it, hung handlers released."""
    started: list[tuple[Receiver, web.AppRunner, asyncio.Server]] = []

    async def start(answer: Handler, tls: ssl.SSLContext | None = None) -> Receiver:
        receiver = Receiver(answer)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", receiver.handle)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        assert runner.server is not None
        factory = runner.server

        def counted() -> asyncio.Protocol:
            receiver.connections += 1
            return factory()

        loop = asyncio.get_running_loop()
        server = await loop.create_server(counted, "127.0.0.1", 0, ssl=tls)
        receiver.port = server.sockets[0].getsockname()[1]
        started.append((receiver, runner, server))
        return receiver

    yield start
    for receiver, runner, server in started:
        receiver.release.set()
        server.close()
        await runner.cleanup()
        await server.wait_closed()


@pytest.fixture
async def senders() -> AsyncIterator[Senders]:
    made: list[HttpWebhookSender] = []

    def make(
        allowed: Sequence[Network] = (),
        timeout: float = 15.0,
        read_limit: int = 64 * 1024,
        resolver: AbstractResolver | None = None,
    ) -> HttpWebhookSender:
        sender = HttpWebhookSender(allowed, timeout, read_limit, resolver=resolver)
        made.append(sender)
        return sender

    yield make
    for sender in made:
        await sender.close()


class ScriptedResolver(AbstractResolver):
    """Answers each name with the next of its scripted answers, as a rebinding DNS server
    would; an answer that is an exception is raised."""

    def __init__(self, answers: dict[str, list[list[str] | OSError]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        answer = self.answers[host].pop(0)
        if isinstance(answer, OSError):
            raise answer
        return [_result(host, address, port) for address in answer]

    async def close(self) -> None:
        pass


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    flags = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
    return ResolveResult(
        hostname=host, host=address, port=port, family=family, proto=0, flags=flags
    )


async def ok(request: web.Request) -> web.StreamResponse:
    return web.Response(status=204)


async def closing(request: web.Request) -> web.StreamResponse:
    response = web.Response(text="ok")
    response.force_close()  # the next attempt needs a new connection, so a new resolution
    return response


def assert_names_nothing(response: Response, *parts: str) -> None:
    """The error and the body say nothing of where the request was going."""
    for part in ("127.0.0.1", "localhost", "hook", "token", *parts):
        assert part not in response.error


async def test_delivers_the_exact_headers_and_body(serve: Serve, senders: Senders) -> None:
    """A 2xx comes back as its status; the receiver got the POST with every header and the
    body byte for byte, the path and query as given."""
    receiver = await serve(ok)
    sender = senders(allowed=LOOPBACK)
    response = await sender.post(receiver.url("/hook?token=abc"), HEADERS, BODY)
    assert (response.status, response.error, response.body) == (204, "", "")
    assert response.latency > 0
    [seen] = receiver.seen
    assert (seen.method, seen.path_qs, seen.body) == ("POST", "/hook?token=abc", BODY)
    received = {name.lower(): value for name, value in seen.headers.items()}
    assert {name: received[name] for name in HEADERS} == HEADERS
    assert received["content-length"] == str(len(BODY))
    assert received["accept-encoding"] == "identity"


async def test_connections_are_kept_alive_and_reused(serve: Serve, senders: Senders) -> None:
    """Consecutive webhooks to one receiver share one pooled connection."""
    receiver = await serve(ok)
    sender = senders(allowed=LOOPBACK)
    for _ in range(3):
        assert (await sender.post(receiver.url(), HEADERS, BODY)).status == 204
    assert (len(receiver.seen), receiver.connections) == (3, 1)


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback address"),
        ("127.1", "not a canonical IP address"),
        ("2130706433", "not a canonical IP address"),
        ("127.0.0.1.", "not a canonical IP address"),
        ("[::ffff:127.0.0.1]", "loopback address"),
        ("localhost", "loopback address"),  # refused by the resolver's check, not the literal's
    ],
)
async def test_loopback_is_refused_without_an_allow_list(
    serve: Serve, senders: Senders, host: str, reason: str
) -> None:
    """Without an allow list nothing reaches a local receiver, however the host is spelled."""
    receiver = await serve(ok)
    response = await senders().post(receiver.url(host=host), HEADERS, BODY)
    assert (response.status, response.error) == (0, f"refused: {reason}")
    assert (receiver.connections, receiver.seen) == (0, [])
    assert_names_nothing(response, str(receiver.port))


async def test_non_canonical_literals_are_refused_even_when_allowed(
    serve: Serve, senders: Senders
) -> None:
    """127.1 is refused with 127/8 allowed: only a canonical address is judged and used."""
    receiver = await serve(ok)
    response = await senders(allowed=LOOPBACK).post(receiver.url(host="127.1"), HEADERS, BODY)
    assert response.error == "refused: not a canonical IP address"
    assert receiver.connections == 0


async def test_a_kept_verdict_on_a_literal_holds_for_every_attempt(
    serve: Serve, senders: Senders
) -> None:
    """A URL parsed and judged once is refused (or sent to) the same way each time after."""
    receiver = await serve(ok)
    refusing, allowing = senders(), senders(allowed=LOOPBACK)
    for _ in range(2):
        refused = await refusing.post(receiver.url(), HEADERS, BODY)
        assert (refused.status, refused.error) == (0, "refused: loopback address")
        assert (await allowing.post(receiver.url(), HEADERS, BODY)).status == 204
    assert len(receiver.seen) == 2


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "https://[fd00:ec2::254]/"]
)
async def test_cloud_metadata_is_refused(senders: Senders, url: str) -> None:
    """The metadata service is never asked: the refusal comes before any connection."""
    response = await senders().post(url, HEADERS, BODY)
    assert (response.status, response.error) == (0, "refused: cloud metadata address")
    assert_names_nothing(response, "169.254", "fd00", "latest")


async def test_a_name_resolving_to_metadata_is_refused(senders: Senders) -> None:
    """A hostname whose answer is the metadata address is refused at resolution."""
    resolver = ScriptedResolver({"meta.example.test": [["169.254.169.254"]]})
    sender = senders(resolver=resolver)
    response = await sender.post("https://meta.example.test/x", HEADERS, BODY)
    assert response.error == "refused: cloud metadata address"
    assert resolver.asked == ["meta.example.test"]


async def test_an_allow_list_admits_local_receivers_over_http(
    serve: Serve, senders: Senders
) -> None:
    """With 127/8 (and ::1) allowed, a literal and a name resolving to them both deliver."""
    receiver = await serve(ok)
    sender = senders(allowed=parse_cidrs("127.0.0.0/8,::1"))
    assert (await sender.post(receiver.url(), HEADERS, BODY)).status == 204
    assert (await sender.post(receiver.url(host="localhost"), HEADERS, BODY)).status == 204
    assert len(receiver.seen) == 2


async def test_plain_http_needs_an_allowed_address(senders: Senders) -> None:
    """A public address is only sent to over https: plain http is refused before connecting,
    for a literal and for a name alike."""
    resolver = ScriptedResolver({"public.example.test": [["93.184.215.14"]]})
    sender = senders(allowed=LOOPBACK, resolver=resolver)
    by_name = await sender.post("http://public.example.test/hook", HEADERS, BODY)
    literal = await sender.post("http://93.184.215.14/hook", HEADERS, BODY)
    assert by_name.error == literal.error == "refused: https required"
    assert_names_nothing(by_name, "public", "93.184")


async def test_dns_rebinding_is_refused_on_the_next_connection(
    serve: Serve, senders: Senders
) -> None:
    """A name that first answers with an allowed address and then with a private one is
    resolved again for the next connection (no DNS cache) and refused then."""
    receiver = await serve(closing)
    name = "rebind.example.test"
    resolver = ScriptedResolver({name: [["127.0.0.1"], ["10.0.0.7"], ["127.0.0.1", "10.0.0.7"]]})
    sender = senders(allowed=parse_cidrs("127.0.0.1"), resolver=resolver)
    url = f"http://{name}:{receiver.port}/hook"
    first = await sender.post(url, HEADERS, BODY)
    second = await sender.post(url, HEADERS, BODY)
    mixed = await sender.post(url, HEADERS, BODY)
    assert first.status == 200
    assert (second.status, second.error) == (0, "refused: private address")
    # One bad address refuses the whole answer, however the good one is placed.
    assert (mixed.status, mixed.error) == (0, "refused: private address")
    assert resolver.asked == [name, name, name]
    assert (receiver.connections, len(receiver.seen)) == (1, 1)
    assert_names_nothing(second, "rebind", "10.0.0.7")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_not_followed(serve: Serve, senders: Senders, status: int) -> None:
    """A 3xx comes back as a failure; the place it points to receives nothing."""
    target = await serve(ok)

    async def redirect(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": target.url("/elsewhere")})

    receiver = await serve(redirect)
    response = await senders(allowed=LOOPBACK).post(receiver.url(), HEADERS, BODY)
    assert (response.status, response.error) == (status, "redirect not followed")
    assert (len(receiver.seen), target.connections) == (1, 0)


async def test_a_receiver_that_hangs_is_cut_at_the_timeout(serve: Serve, senders: Senders) -> None:
    """No answer within the timeout: status 0, "timeout", after the request arrived."""
    receiver: Receiver

    async def hang(request: web.Request) -> web.StreamResponse:
        await receiver.release.wait()
        return web.Response()

    receiver = await serve(hang)
    sender = senders(allowed=LOOPBACK, timeout=0.5)
    response = await sender.post(receiver.url(), HEADERS, BODY)
    assert (response.status, response.error) == (0, "timeout")
    assert receiver.entered.is_set()
    assert 0.4 < response.latency < 10


async def test_a_huge_answer_is_read_only_up_to_the_limit(serve: Serve, senders: Senders) -> None:
    """An 8 MiB answer: the status stands, 1 KiB of it is kept, and its connection is dropped
    rather than drained (the next attempt connects anew)."""

    async def huge(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"x" * (8 << 20))

    receiver = await serve(huge)
    sender = senders(allowed=LOOPBACK, read_limit=64 * 1024)
    first = await sender.post(receiver.url(), HEADERS, BODY)
    second = await sender.post(receiver.url(), HEADERS, BODY)
    assert (first.status, first.error, first.body) == (200, "", "x" * 1024)
    assert second.body == first.body
    assert receiver.connections == 2


async def test_an_answer_that_is_not_utf8_is_kept_leniently(serve: Serve, senders: Senders) -> None:
    """Bytes that are not UTF-8 become replacement characters, never an exception."""

    async def binary(request: web.Request) -> web.StreamResponse:
        return web.Response(status=500, body=b"\xff\xfeoops")

    receiver = await serve(binary)
    response = await senders(allowed=LOOPBACK).post(receiver.url(), HEADERS, BODY)
    assert (response.status, response.body) == (500, "\ufffd\ufffdoops")


@pytest.mark.parametrize("value", ["120", "Wed, 21 Oct 2026 07:28:00 GMT"])
async def test_retry_after_is_passed_back(serve: Serve, senders: Senders, value: str) -> None:
    """A 429 or 503's Retry-After comes back as sent, with the status and the body."""

    async def busy(request: web.Request) -> web.StreamResponse:
        return web.Response(status=429, text="slow down", headers={"Retry-After": value})

    receiver = await serve(busy)
    response = await senders(allowed=LOOPBACK).post(receiver.url(), HEADERS, BODY)
    assert (response.status, response.retry_after, response.body) == (429, value, "slow down")
    assert response.error == ""


async def test_a_closed_port_is_a_connection_failure(senders: Senders) -> None:
    """Nothing listening: status 0, "connection failed", no address in the error."""
    with socket.socket() as bound:  # bound, never listening: connecting to it is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        url = f"http://127.0.0.1:{port}/hook?token=abc"
        response = await senders(allowed=LOOPBACK).post(url, HEADERS, BODY)
    assert (response.status, response.error) == (0, "connection failed")
    assert_names_nothing(response, str(port))


async def test_an_untrusted_certificate_is_a_tls_error(
    serve: Serve, senders: Senders, tmp_path: Path
) -> None:
    """A self-signed certificate fails verification: "TLS error", and no request was sent."""
    cert, key = self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    receiver = await serve(ok, tls)
    url = f"https://127.0.0.1:{receiver.port}/hook"
    response = await senders(allowed=LOOPBACK).post(url, HEADERS, BODY)
    assert (response.status, response.error) == (0, "TLS error")
    assert receiver.seen == []
    assert_names_nothing(response, str(receiver.port))


async def test_a_name_that_does_not_resolve(senders: Senders) -> None:
    """A resolution failure comes back as such, naming nothing."""
    failure = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    resolver = ScriptedResolver({"gone.example.test": [failure]})
    response = await senders(resolver=resolver).post("https://gone.example.test/", HEADERS, BODY)
    assert (response.status, response.error) == (0, "name resolution failed")
    assert_names_nothing(response, "gone")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "not a url", "http://[::1/", "https:///nohost", ""]
)
async def test_invalid_urls_come_back_as_errors(senders: Senders, url: str) -> None:
    """An unusable URL is an error in the Response, never an exception."""
    response = await senders().post(url, HEADERS, BODY)
    assert (response.status, response.error) == (0, "invalid URL")


async def test_errors_never_name_the_url(serve: Serve, senders: Senders) -> None:
    """Across every kind of failure, no error repeats the host, the port or the path."""
    receiver = await serve(ok)
    resolver = ScriptedResolver(
        {"secret-host.example.test": [["10.9.8.7"], socket.gaierror(socket.EAI_NONAME, "x")]}
    )
    sender = senders(resolver=resolver)
    urls = [
        f"http://secret-host.example.test:{receiver.port}/tok_SECRET",
        f"https://secret-host.example.test:{receiver.port}/tok_SECRET",
        f"http://127.0.0.1:{receiver.port}/tok_SECRET",
        f"gopher://secret-host.example.test:{receiver.port}/tok_SECRET",
    ]
    for url in urls:
        response = await sender.post(url, HEADERS, BODY)
        assert response.status == 0
        assert response.error
        assert_names_nothing(response, "secret", "SECRET", str(receiver.port), "10.9")
    assert receiver.connections == 0
