"""Provider attempts in the history: what the provider said, scrubbed and sealed at rest; a
failover counted only when there was a next provider."""

import os
import sqlite3
from pathlib import Path

from postroom.ciphers.aesgcm import AesGcmCipher
from postroom.clocks.system import SystemClock
from postroom.domain.message import Address, Email
from postroom.metrics.prometheus import PrometheusMetrics
from postroom.ports.provider import Provider
from postroom.ports.queue import NewEmail
from postroom.ports.storage import Storage
from postroom.providers.mailgun import MailgunProvider
from postroom.providers.smtp import SmtpProvider
from postroom.services.content import Content
from postroom.services.deliver import DeliverEmail
from postroom.storage.sqlite import sqlite_storage
from tests.conftest import RunningSimulator
from tests.integration.providers.conftest import StartSmtp

EMAIL_ID = "0190d5a3-0000-7000-8000-0000000000bb"
SUBJECT = "Your secret order 4711"


async def deliver_once(
    path: Path, providers: list[Provider], content: Content, metrics: PrometheusMetrics
) -> Storage:
    """Store one email, lease it and run one delivery; the queue stays open for reading."""
    clock = SystemClock()
    queue = sqlite_storage(str(path), clock)
    message = Email(
        sender=Address("shop@example.com"),
        to=(Address("ann@example.org", "Ann Example"),),
        subject=SUBJECT,
        text="Hello",
    )
    payload = content.seal_email(message, EMAIL_ID)
    await queue.queue.put(NewEmail(EMAIL_ID, payload, not_before=clock.now()))
    (lease,) = await queue.queue.lease(1, 60)
    await DeliverEmail(queue.queue, providers, clock, metrics=metrics, content=content)(lease)
    return queue


def metric_line(metrics: PrometheusMetrics, prefix: str) -> list[str]:
    return [line for line in metrics.render().decode().splitlines() if line.startswith(prefix)]


async def test_refusal_is_scrubbed_and_sealed(smtp_server: StartSmtp, tmp_path: Path) -> None:
    """The server's 550 quoting the address: the history shows it masked; on disk it is sealed."""
    server = smtp_server()
    server.handler.refuse["ann@example.org"] = f"550 5.1.1 <ann@example.org> unknown ({SUBJECT})"
    smtp = SmtpProvider.from_url(server.url())
    content = Content(AesGcmCipher([("k1", os.urandom(32))]))
    metrics = PrometheusMetrics()
    try:
        queue = await deliver_once(tmp_path / "q.db", [smtp], content, metrics)
    finally:
        await smtp.close()
    status = await queue.emails.status(EMAIL_ID)
    await queue.close()
    assert status is not None
    attempt = next(e for e in status.events if e.outcome)
    assert (attempt.provider, attempt.outcome, attempt.code) == ("smtp", "permanent", "smtp_550")
    reason = content.open_text(attempt.reason, EMAIL_ID)
    assert reason == "550 5.1.1 <address> unknown (<redacted>)"
    stored = sqlite3.connect(tmp_path / "q.db").execute("SELECT reason FROM events").fetchall()
    assert not any("unknown" in text for (text,) in stored)
    assert metric_line(metrics, "postroom_failovers_total{") == []


async def test_failover_counted_only_with_a_next_provider(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """One provider down: a retry, no failover counted; two: one failover from the first."""
    simulator.simulator.behaviour.update({"only": ["mailgun"], "outage": True})
    url = f"mailgun://key@mg.example.com?base_url={simulator.url}"
    content = Content(AesGcmCipher([("k1", os.urandom(32))]))
    alone, first = MailgunProvider.from_url(url), MailgunProvider.from_url(url)
    second = SmtpProvider("127.0.0.1", 1, tls="none", timeout=2)  # nothing listens on port 1
    try:
        lonely = PrometheusMetrics()
        queue = await deliver_once(tmp_path / "a.db", [alone], content, lonely)
        await queue.close()
        chained = PrometheusMetrics()
        queue = await deliver_once(tmp_path / "b.db", [first, second], content, chained)
    finally:
        for provider in (alone, first, second):
            await provider.close()
    status = await queue.emails.status(EMAIL_ID)
    await queue.close()
    assert metric_line(lonely, "postroom_failovers_total{") == []
    assert metric_line(chained, "postroom_failovers_total{") == [
        'postroom_failovers_total{provider="mailgun"} 1.0'
    ]
    assert status is not None
    assert [(e.provider, e.outcome, e.code) for e in status.events if e.outcome] == [
        ("mailgun", "down", "http_503"),
        ("smtp", "down", "connection"),
    ]
    retrying = status.events[-1]
    assert content.open_text(retrying.reason, EMAIL_ID) == (
        "mailgun: down http_503; smtp: down connection"
    )


async def test_each_attempt_records_how_long_its_call_took(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """The provider answering after 60 ms: the failed call to the first provider and the
    sending call to the second are each stored with their duration, and the sending one's is
    at least the provider's delay."""
    simulator.simulator.behaviour.update({"latency_ms": 60})
    url = f"mailgun://key@mg.example.com?base_url={simulator.url}"
    down = SmtpProvider("127.0.0.1", 1, tls="none", timeout=2)  # nothing listens on port 1
    mailgun = MailgunProvider.from_url(url)
    content = Content(AesGcmCipher([("k1", os.urandom(32))]))
    try:
        queue = await deliver_once(tmp_path / "d.db", [down, mailgun], content, PrometheusMetrics())
    finally:
        for provider in (down, mailgun):
            await provider.close()
    await queue.close()
    stored = sqlite3.connect(tmp_path / "d.db").execute(
        "SELECT provider, outcome, duration_ms FROM attempts ORDER BY rowid"
    )
    (smtp, failed, smtp_ms), (sent_by, sent, sent_ms) = stored.fetchall()
    assert (smtp, failed, sent_by, sent) == ("smtp", "down", "mailgun", "sent")
    assert 0 < smtp_ms < 2000
    assert 60 <= sent_ms < 5000
