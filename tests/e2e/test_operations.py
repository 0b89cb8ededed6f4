"""Operator-facing surfaces: Prometheus metrics and the dead-letter commands."""

import re
import subprocess
from pathlib import Path

from tests.support.http import post_email, request
from tests.support.processes import FakeProvider, wait_for
from tests.support.server import POSTROOM, server

EMAIL = {"from": "shop@example.com", "to": ["ann@example.org"], "subject": "Hi", "body": "Hello"}


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus exposition."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = (
        rf"^{re.escape(name)}(\{{{re.escape(wanted)}\}})? ([0-9.e+-]+)$"
        if labels
        else rf"^{re.escape(name)} ([0-9.e+-]+)$"
    )
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"{name} {labels} not in metrics"
    return float(found.groups()[-1])


def test_metrics_count_sends_failovers_and_queue(workdir: Path) -> None:
    """After a failover, /metrics shows sends per provider, failovers, circuits and queue gauges."""
    fake = FakeProvider(workdir)
    fake.behaviour({"only": ["mailgun"], "outage": True})
    providers = fake.mailgun_then_sendgrid()
    serve = server(workdir, {"POSTROOM_PROVIDERS": providers}).start()
    try:
        ids = [post_email(serve.url, EMAIL).json()["id"] for _ in range(3)]
        wait_for(
            lambda: all(
                request("GET", f"{serve.url}/api/v1/email/{i}").json()["status"] == "sent"
                for i in ids
            ),
            30,
            "the emails to be sent",
        )
        text = request("GET", f"{serve.url}/metrics").body.decode()
        assert metric(text, "postroom_emails_accepted_total") == 3
        assert (
            metric(text, "postroom_emails_settled_total", outcome="sent", provider="sendgrid") == 3
        )
        assert metric(text, "postroom_failovers_total", provider="mailgun") == 3
        assert metric(text, "postroom_provider_circuit", provider="sendgrid", state="closed") == 1
        assert metric(text, "postroom_queue_ready") == 0
        assert metric(text, "postroom_queue_oldest_age_seconds") == 0
        assert metric(text, "postroom_intake_seconds_count") == 3
        assert 'postroom_provider_call_seconds_count{outcome="down",provider="mailgun"}' in text
    finally:
        serve.stop()
        fake.stop()


def run(workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [POSTROOM, *args],
        capture_output=True,
        text=True,
        cwd=workdir,
        env={**os.environ, **env},
        timeout=60,
    )


def test_dead_letters_listed_and_redriven(workdir: Path) -> None:
    """Refused emails are listed by `postroom dead list` and sent by `postroom dead redrive`."""
    fake = FakeProvider(workdir, "--key", "right-key")
    wrong = f"mailgun://wrong-key@mg.example.com?base_url={fake.url}"
    serve = server(workdir, {"POSTROOM_PROVIDERS": wrong, "POSTROOM_MAX_ATTEMPTS": "1"}).start()
    try:
        ids = [post_email(serve.url, EMAIL).json()["id"] for _ in range(3)]
        wait_for(
            lambda: all(
                request("GET", f"{serve.url}/api/v1/email/{i}").json()["status"] == "failed"
                for i in ids
            ),
            30,
            "the emails to be dead-lettered",
        )
    finally:
        serve.stop()
    listing = run(workdir, serve.env, "dead", "list")
    assert listing.returncode == 0
    assert all(i in listing.stdout for i in ids)
    assert "ann@example.org" not in listing.stdout
    dry = run(workdir, serve.env, "dead", "redrive", "--all", "--dry-run")
    assert dry.stdout.strip() == "would redrive: 3"
    assert (
        "would redrive: 1"
        in run(workdir, serve.env, "dead", "redrive", "--id", ids[0], "--dry-run").stdout
    )
    right = {
        **serve.env,
        "POSTROOM_PROVIDERS": f"mailgun://right-key@mg.example.com?base_url={fake.url}",
    }
    done = run(workdir, right, "dead", "redrive", "--all")
    assert done.stdout.strip() == "redriven: 3"
    again = server(workdir, right)
    again.port = serve.port
    again.start()
    try:
        wait_for(
            lambda: all(
                request("GET", f"{again.url}/api/v1/email/{i}").json()["status"] == "sent"
                for i in ids
            ),
            30,
            "the redriven emails to be sent",
        )
        assert len(fake.accepted()["accepted"]) == 3
    finally:
        again.stop()
        fake.stop()
