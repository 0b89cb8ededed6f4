"""What a user sees of delivery: each provider attempt in the email's history, the parts the
outbox wrote, dead letters naming the last attempt, and `postroom check --providers`."""

import base64
import email
import email.policy
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.support.http import post_email, request
from tests.support.processes import FakeProvider, wait_for
from tests.support.server import POSTROOM, Server, free_port, server

EMAIL = {"from": "shop@example.com", "to": ["ann@example.org"], "subject": "Hi", "body": "Hello"}


def run(workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [POSTROOM, *args],
        capture_output=True,
        text=True,
        cwd=workdir,
        env={**os.environ, **env},
        timeout=60,
    )


def status_when(serve: Server, email_id: str, state: str) -> dict[str, Any]:
    """The status body once the email reached `state` (bounded wait)."""
    url = f"{serve.url}/api/v1/email/{email_id}"
    wait_for(lambda: request("GET", url).json()["status"] == state, 30, f"status {state}")
    return request("GET", url).json()  # type: ignore[no-any-return]


def test_failover_is_visible_in_the_history(workdir: Path) -> None:
    """mailgun down 503, then sendgrid sent: both attempts are events with outcome and code."""
    fake = FakeProvider(workdir)
    fake.behaviour({"only": ["mailgun"], "outage": True})
    providers = fake.mailgun_then_sendgrid()
    serve = server(workdir, {"POSTROOM_PROVIDERS": providers}).start()
    try:
        email_id = post_email(serve.url, EMAIL).json()["id"]
        body = status_when(serve, email_id, "sent")
    finally:
        serve.stop()
        fake.stop()
    attempts = [
        (e["status"], e["provider"], e["outcome"], e["code"])
        for e in body["events"]
        if e["outcome"]
    ]
    assert attempts == [
        ("sending", "mailgun", "down", "http_503"),
        ("sent", "sendgrid", "sent", "http_202"),
    ]
    queued = body["events"][0]
    assert (queued["outcome"], queued["code"]) == (None, None)


def test_retry_names_the_failed_providers_and_dead_list_the_last(workdir: Path) -> None:
    """Every provider refusing the key: retrying names both, `dead list` the last and its class."""
    fake = FakeProvider(workdir, "--key", "right-key")
    providers = (
        f"mailgun://wrong@mg.example.com?base_url={fake.url},"
        f"sendgrid://SG.wrong?base_url={fake.url}"
    )
    env = {"POSTROOM_PROVIDERS": providers, "POSTROOM_MAX_ATTEMPTS": "2"}
    serve = server(workdir, env).start()
    try:
        email_id = post_email(serve.url, EMAIL).json()["id"]
        body = status_when(serve, email_id, "failed")
    finally:
        serve.stop()
        fake.stop()
    retrying = next(e for e in body["events"] if e["status"] == "retrying")
    assert retrying["reason"] == "mailgun: misconfigured http_401; sendgrid: misconfigured http_401"
    tried = [(e["provider"], e["outcome"], e["code"]) for e in body["events"] if e["outcome"]]
    # The misconfigured circuits stay open, so the second attempt calls no provider.
    assert tried == [
        ("mailgun", "misconfigured", "http_401"),
        ("sendgrid", "misconfigured", "http_401"),
    ]
    listing = run(workdir, serve.env, "dead", "list")
    assert listing.returncode == 0
    [row] = [line.split() for line in listing.stdout.splitlines() if email_id in line]
    assert row[-2:] == ["sendgrid", "misconfigured"]


def test_outbox_gets_generated_text_a_guessed_type_and_a_utc_date(workdir: Path) -> None:
    """An HTML-only email with an untyped PDF: a text part from the HTML, application/pdf."""
    serve = server(workdir).start()
    html = "<h1>Your order</h1><p>Thanks &amp; <a href='https://shop.example/o/1'>see it</a></p>"
    pdf = base64.b64encode(b"%PDF-1.4 ...").decode()
    submitted = {
        "from": "shop@example.com",
        "to": ["ann@example.org"],
        "subject": "Order",
        "html": html,
        "attachments": [{"filename": "invoice.pdf", "content": pdf}],
    }
    try:
        email_id = post_email(serve.url, submitted).json()["id"]
        status_when(serve, email_id, "sent")
    finally:
        serve.stop()
    raw = (workdir / "outbox" / f"{email_id}.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Date"].endswith("+0000")
    text = message.get_body(("plain",))  # type: ignore[attr-defined]
    assert text is not None
    content = text.get_content()
    assert "Your order" in content
    assert "Thanks & see it" in content
    assert "<" not in content
    [attachment] = list(message.iter_attachments())  # type: ignore[attr-defined]
    assert attachment.get_content_type() == "application/pdf"
    assert (workdir / "outbox" / f"{email_id}.json").exists()


def test_check_providers_probes_without_sending(workdir: Path) -> None:
    """`check --providers`: one line per provider, ok or the class and cause; exit 1 on any."""
    fake = FakeProvider(workdir, "--key", "right-key")
    closed = free_port()
    good = (
        f"mailgun://right-key@mg.example.com?base_url={fake.url},"
        f"sendgrid://right-key?base_url={fake.url},"
        f"postmark://right-key?base_url={fake.url},"
        f"outbox://{workdir}/outbox"
    )
    base = {"POSTROOM_DATABASE_URL": f"sqlite:///{workdir}/postroom.db"}
    try:
        ok = run(workdir, {**base, "POSTROOM_PROVIDERS": good}, "check", "--providers")
        bad_key = f"sendgrid://wrong-key?base_url={fake.url}"
        refused = f"postmark://right-key?base_url=http://127.0.0.1:{closed}"
        bad = run(
            workdir, {**base, "POSTROOM_PROVIDERS": f"{bad_key},{refused}"}, "check", "--providers"
        )
        assert fake.accepted()["count"] == 0
    finally:
        fake.stop()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines = ok.stdout.splitlines()
    assert lines[0] == "storage ok"
    assert [line.split()[1] for line in lines[1:]] == ["mailgun", "sendgrid", "postmark", "outbox"]
    assert all(line.endswith(": ok") for line in lines[1:])
    assert "right-key" not in ok.stdout
    assert bad.returncode == 1
    sendgrid, postmark = bad.stdout.splitlines()[1:]
    assert sendgrid.startswith("provider sendgrid sendgrid://***")
    assert ": misconfigured: http_401" in sendgrid
    assert f"down: connection: 127.0.0.1:{closed}: cannot connect" in postmark
