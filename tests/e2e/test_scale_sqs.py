"""SQS as the queue beside a SQL store, on moto's server: the PostgreSQL scale run at a smaller
size (two API processes, three workers, one SIGKILL), and `postroom serve` on a FIFO queue."""

import collections
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.e2e.test_worker_processes import ids_accepted
from tests.support.http import post_email, request
from tests.support.load import Submitted, submit
from tests.support.moto import MotoServer
from tests.support.postgres import database_url, fresh_database
from tests.support.processes import FakeProvider, wait_for
from tests.support.scale import deployment, kill_one_worker_midway, poll, states
from tests.support.server import POSTROOM, server
from tests.support.sqs import sqs_url

EMAILS = 3_000
KILL_AFTER = 750  # emails sent before one worker is killed
CONCURRENCY = 32  # sends in flight per worker: the bound on duplicates from one SIGKILL
CLIENT_CONNECTIONS = 8
# moto's server spends time on each call in proportion to the messages a queue holds (it counts
# them on every SendMessage), so a queue thousands deep slows every call past the client's
# timeouts. Intake goes in waves, each once at most BACKLOG emails are still unsent: moto's
# queue stays under WAVE + BACKLOG messages however fast or slow this machine is.
WAVE = 200
BACKLOG = 100
VISIBILITY = "15"
EMAIL = {
    "from": "Shop <shop@example.com>",
    "to": ["ann@example.org"],
    "subject": "Your order",
    "text": "Hello Ann,\n\nYour order has shipped.\n",
}


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database("postroom_scale_sqs") as name:
        yield name


def create_queues(workdir: Path, queue_url: str) -> None:
    """`postroom sqs create-queues`, as at a deploy; moto's credentials are in os.environ."""
    env = {"POSTROOM_QUEUE_URL": queue_url, "POSTROOM_VISIBILITY_TIMEOUT": VISIBILITY}
    created = subprocess.run(
        [POSTROOM, "sqs", "create-queues"],
        cwd=workdir,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    assert "dead-letter queue:" in created.stdout, created.stdout


def submit_in_waves(base: str, url: str) -> Submitted:
    """EMAILS POSTs in waves of WAVE, each once at most BACKLOG accepted emails are unsent."""
    total = Submitted()
    began = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        while (done := len(total.ids) + total.refused.total() + total.errors.total()) < EMAILS:
            # Unsent ones left by the killed worker come back after the visibility timeout.
            poll(
                lambda: len(total.ids) - states(conn).get("sent", 0) <= BACKLOG,
                120,
                f"at most {BACKLOG} unsent before the next wave",
            )
            wave = submit(base, EMAIL, min(WAVE, EMAILS - done), CLIENT_CONNECTIONS)
            total.ids += wave.ids
            total.refused += wave.refused
            total.errors += wave.errors
    total.seconds = time.monotonic() - began
    return total


@pytest.mark.slow
def test_3000_emails_sqs_queue_two_apis_three_workers_one_sigkill(
    workdir: Path, database: str, moto_server: MotoServer
) -> None:
    """3,000 emails queued on SQS, stored in PostgreSQL, 2 API processes and 3 workers, one
    SIGKILLed: none lost, duplicates only from sends in flight at the kill."""
    url = database_url(database)
    queue_url = sqs_url(moto_server, "scale", wait=1)
    create_queues(workdir, queue_url)
    with deployment(
        workdir, database, {"POSTROOM_QUEUE_URL": queue_url}, CONCURRENCY, VISIBILITY
    ) as running:
        kill_one_worker_midway(
            database=url,
            submit=lambda: submit_in_waves(running.api.url, url),
            workers=running.workers,
            restart=running.start_worker,
            fake=running.fake,
            emails=EMAILS,
            kill_after=KILL_AFTER,
            in_flight=CONCURRENCY,
            timeout=120,
        )


def statuses(base: str, ids: list[str]) -> collections.Counter[str]:
    return collections.Counter(
        request("GET", f"{base}/api/v1/email/{email_id}").json()["status"] for email_id in ids
    )


@pytest.mark.slow
def test_serve_with_a_fifo_queue_sends_each_email_once(
    workdir: Path, moto_server: MotoServer
) -> None:
    """`postroom serve` on a FIFO queue with a SQLite store: each email sent once, then `sent`."""
    queue_url = sqs_url(moto_server, "serve.fifo", wait=1)
    create_queues(workdir, queue_url)
    fake = FakeProvider(workdir)
    env = {
        "POSTROOM_QUEUE_URL": queue_url,
        "POSTROOM_PROVIDERS": f"mailgun://key@mg.example.com?base_url={fake.url}",
        "POSTROOM_VISIBILITY_TIMEOUT": VISIBILITY,
    }
    app = server(workdir, env).start()
    try:
        ids = [post_email(app.url, EMAIL).json()["id"] for _ in range(10)]
        wait_for(lambda: set(ids_accepted(fake)) == set(ids), 60, "every email to be sent")
        wait_for(lambda: statuses(app.url, ids) == {"sent": 10}, 30, "every email `sent`")
        # After a clean stop nothing is in flight: a second send would be on the record now.
        assert app.stop() == 0
        assert sorted(ids_accepted(fake)) == sorted(ids)
    finally:
        app.stop()
        fake.stop()
