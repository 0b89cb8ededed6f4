"""Each provider's probe: a read-only check that sends no mail, against real local servers."""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from postroom.ports.provider import Provider
from postroom.providers import open_provider
from postroom.providers.smtp import SmtpProvider
from tests.conftest import RunningSimulator
from tests.integration.providers.conftest import StartSmtp, free_port
from tests.support.moto import use_fake_aws_credentials

_opened: list[Provider] = []


@pytest.fixture(autouse=True)
async def close_providers() -> AsyncIterator[None]:
    yield
    while _opened:
        await _opened.pop().close()


def opened(url: str) -> Provider:
    provider = open_provider(url)
    _opened.append(provider)
    return provider


def http_urls(base: str, key: str) -> list[str]:
    return [
        f"mailgun://{key}@mg.example.com?base_url={base}",
        f"sendgrid://{key}?base_url={base}",
        f"postmark://{key}?base_url={base}",
    ]


async def test_http_probes_pass_with_the_right_key_and_send_nothing(
    simulator: RunningSimulator,
) -> None:
    """Mailgun, SendGrid and Postmark probes are ok with the right key; nothing is accepted."""
    simulator.simulator.api_key = "right-key"
    for url in http_urls(simulator.url, "right-key"):
        probe = await opened(url).probe()
        assert probe.ok, (url, probe)
    assert simulator.simulator.accepted == []


async def test_http_probes_report_a_refused_key(simulator: RunningSimulator) -> None:
    """A wrong key is misconfigured, with the provider's 401."""
    simulator.simulator.api_key = "right-key"
    for url in http_urls(simulator.url, "wrong-key"):
        probe = await opened(url).probe()
        assert (probe.ok, probe.error) == (False, "misconfigured"), url
        assert probe.cause.startswith("http_401")
        assert "wrong-key" not in probe.cause


async def test_http_probe_names_host_and_port_it_cannot_reach() -> None:
    """A refused connection is down, naming host:port and the cause."""
    port = free_port()
    for url in http_urls(f"http://127.0.0.1:{port}", "key"):
        probe = await opened(url).probe()
        assert (probe.ok, probe.error) == (False, "down")
        assert probe.cause.startswith(f"connection: 127.0.0.1:{port}: cannot connect")


async def test_http_probe_reports_an_outage(simulator: RunningSimulator) -> None:
    """A provider answering 503 is down."""
    simulator.simulator.behaviour.update({"outage": True})
    probe = await opened(http_urls(simulator.url, "key")[0]).probe()
    assert (probe.ok, probe.error, probe.cause) == (False, "down", "http_503: Service Unavailable")


async def test_smtp_probe_authenticates_and_sends_nothing(smtp_server: StartSmtp) -> None:
    """SMTP: connect, EHLO, AUTH and QUIT pass with the right password; no message arrives."""
    server = smtp_server(auth=True)
    probe = await opened(server.url(auth=True)).probe()
    assert probe.ok, probe
    assert server.handler.messages == []


async def test_smtp_probe_reports_refused_credentials(smtp_server: StartSmtp) -> None:
    """A wrong password is misconfigured (535), naming the server."""
    server = smtp_server(auth=True)
    probe = await opened(server.url(auth=True, password="wrong")).probe()
    assert (probe.ok, probe.error) == (False, "misconfigured")
    assert probe.cause.startswith(f"127.0.0.1:{server.port}: ")


async def test_smtp_probe_names_host_and_port_it_cannot_reach() -> None:
    """Nothing listening: down, with host:port and the cause."""
    port = free_port()
    probe = await SmtpProvider("127.0.0.1", port, tls="none", timeout=5).probe()
    assert (probe.ok, probe.error) == (False, "down")
    assert probe.cause.startswith(f"127.0.0.1:{port}: connection: ")


class FakeSesAccount:
    """SES v2's GetAccount (`GET /v2/email/account`) on 127.0.0.1: moto does not serve it."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        self.requests: list[tuple[str, str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        signature = request.headers.get("Authorization", "")
        self.requests.append((request.method, request.path, signature.split(" ")[0]))
        headers = {"x-amzn-ErrorType": str(self.body.get("__type", ""))}
        return web.json_response(self.body, status=self.status, headers=headers)


@pytest.fixture
async def fake_ses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[Callable[[int, dict[str, Any]], Awaitable[tuple[str, FakeSesAccount]]]]:
    use_fake_aws_credentials(monkeypatch, tmp_path)
    runners: list[web.AppRunner] = []

    async def start(status: int, body: dict[str, Any]) -> tuple[str, FakeSesAccount]:
        fake = FakeSesAccount(status, body)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", fake.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}", fake

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_ses_probe_reads_the_account(fake_ses: Any) -> None:
    """SES: one signed GetAccount; ok while sending is enabled, misconfigured when paused."""
    url, fake = await fake_ses(200, {"SendingEnabled": True, "ProductionAccessEnabled": True})
    probe = await opened(f"ses://eu-west-1?base_url={url}").probe()
    assert probe.ok, probe
    assert fake.requests == [("GET", "/v2/email/account", "AWS4-HMAC-SHA256")]
    url, _ = await fake_ses(200, {"SendingEnabled": False})
    paused = await opened(f"ses://eu-west-1?base_url={url}").probe()
    assert (paused.ok, paused.error) == (False, "misconfigured")


async def test_ses_probe_reports_refused_credentials(fake_ses: Any) -> None:
    """SES refusing the key (403 UnrecognizedClientException) is misconfigured."""
    refusal = {"__type": "UnrecognizedClientException", "message": "invalid security token"}
    url, _ = await fake_ses(403, refusal)
    probe = await opened(f"ses://eu-west-1?base_url={url}").probe()
    assert (probe.ok, probe.error) == (False, "misconfigured")
    assert probe.cause.startswith("ses_UnrecognizedClientException")


async def test_ses_probe_names_the_endpoint_it_cannot_reach(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SES with nothing listening: down, naming host:port."""
    use_fake_aws_credentials(monkeypatch, tmp_path)
    port = free_port()
    probe = await opened(f"ses://eu-west-1?base_url=http://127.0.0.1:{port}&timeout=5").probe()
    assert (probe.ok, probe.error) == (False, "down")
    assert f"127.0.0.1:{port}" in probe.cause
