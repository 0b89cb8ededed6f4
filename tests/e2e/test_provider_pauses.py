"""Pausing and resuming a provider from the command line while `postroom serve` (SQLite) or
`postroom api` and two `postroom worker` processes (PostgreSQL) deliver: what the fake
provider received, per provider, says where each email went."""

import collections
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.http import post_email, request
from tests.support.postgres import database_url, fresh_database
from tests.support.processes import FakeProvider, start_worker, wait_for
from tests.support.server import POSTROOM, Server, run_cli, server

EMAIL = {"from": "shop@example.com", "to": ["ann@example.org"], "subject": "Hi", "body": "Hello"}
# The worker reads pauses every 0.5 s and looks for work every 0.2 s: "about a second".
SEEN_WITHIN = 1.5


def received(fake: FakeProvider) -> collections.Counter[str]:
    """How many emails the fake provider accepted through each provider API."""
    return collections.Counter(item["provider"] for item in fake.accepted()["accepted"])


def status(api: Server, email_id: str) -> str:
    return str(request("GET", f"{api.url}/api/v1/email/{email_id}").json()["status"])


def send_and_wait(api: Server, count: int) -> list[str]:
    ids = [post_email(api.url, EMAIL).json()["id"] for _ in range(count)]
    wait_for(lambda: all(status(api, i) == "sent" for i in ids), 30, "the emails to be sent")
    return ids


def providers(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("providers", *args, env=env)


@pytest.fixture
def fake(workdir: Path) -> Iterator[FakeProvider]:
    provider = FakeProvider(workdir)
    yield provider
    provider.stop()


def test_a_paused_provider_is_skipped_until_resumed_under_serve(
    workdir: Path, fake: FakeProvider
) -> None:
    """`postroom providers pause mailgun`: new emails go out through SendGrid only; with every
    provider paused they wait (queued, not failed); `resume mailgun`: Mailgun again."""
    serve = server(workdir, {"POSTROOM_PROVIDERS": fake.mailgun_then_sendgrid()}).start()
    env = serve.env
    try:
        send_and_wait(serve, 2)
        assert received(fake) == {"mailgun": 2}

        paused = providers(env, "pause", "mailgun")
        assert paused.returncode == 0, paused.stderr
        assert "mailgun paused" in paused.stdout
        assert "was paused already" in providers(env, "pause", "mailgun").stdout
        listing = providers(env, "list").stdout
        assert "mailgun           paused since" in listing
        assert "sendgrid          sending" in listing
        wait_for(
            lambda: (
                'postroom_provider_circuit{provider="mailgun",state="paused"} 1.0'
                in request("GET", f"{serve.url}/metrics").body.decode()
            ),
            SEEN_WITHIN,
            "the worker to see the pause",
        )
        send_and_wait(serve, 3)
        assert received(fake) == {"mailgun": 2, "sendgrid": 3}

        assert providers(env, "pause", "sendgrid").returncode == 0
        time.sleep(SEEN_WITHIN)  # both paused: what is sent now must wait
        waiting = post_email(serve.url, EMAIL).json()["id"]
        time.sleep(SEEN_WITHIN)
        assert status(serve, waiting) == "queued"
        assert received(fake) == {"mailgun": 2, "sendgrid": 3}

        resumed = providers(env, "resume", "mailgun")
        assert (resumed.returncode, resumed.stdout.strip()) == (0, "mailgun resumed")
        wait_for(lambda: status(serve, waiting) == "sent", 5, "the waiting email to be sent")
        send_and_wait(serve, 2)
        assert received(fake) == {"mailgun": 5, "sendgrid": 3}
        assert providers(env, "resume", "sendgrid").returncode == 0
        assert providers(env, "resume", "sendgrid").stdout.strip() == "sendgrid was not paused"
    finally:
        serve.stop()


def test_an_unknown_provider_cannot_be_paused(workdir: Path, fake: FakeProvider) -> None:
    """A name that is not configured: exit 1 naming the configured ones, nothing paused."""
    env = server(workdir, {"POSTROOM_PROVIDERS": fake.mailgun_then_sendgrid()}).env
    refused = providers(env, "pause", "mailgn")
    assert refused.returncode == 1
    assert "no provider named 'mailgn'" in refused.stderr
    assert "mailgun, sendgrid" in refused.stderr
    assert "paused" not in providers(env, "list").stdout


@pytest.fixture
def postgres() -> Iterator[str]:
    with fresh_database("postroom_pauses") as name:
        url = database_url(name)
        subprocess.run([POSTROOM, "migrate", "--database-url", url], check=True, timeout=60)
        yield url


def test_every_postgres_worker_honours_a_pause_within_a_second(
    workdir: Path, fake: FakeProvider, postgres: str
) -> None:
    """Two worker processes and an API on one database: a pause made by the command line is
    honoured by both within SEEN_WITHIN, and a resume likewise, with no restart."""
    env = {"POSTROOM_DATABASE_URL": postgres, "POSTROOM_PROVIDERS": fake.mailgun_then_sendgrid()}
    api = server(workdir, env, command="api").start()
    workers = [start_worker(workdir, api.env) for _ in range(2)]
    try:
        send_and_wait(api, 4)
        assert received(fake) == {"mailgun": 4}
        assert providers(api.env, "pause", "mailgun").returncode == 0
        time.sleep(SEEN_WITHIN)
        send_and_wait(api, 20)
        assert received(fake) == {"mailgun": 4, "sendgrid": 20}
        assert providers(api.env, "resume", "mailgun").returncode == 0
        time.sleep(SEEN_WITHIN)
        send_and_wait(api, 20)
        assert received(fake) == {"mailgun": 24, "sendgrid": 20}
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(30)
        api.stop()
