"""Proof at scale on PostgreSQL: two API processes, three workers, 20,000 emails, one SIGKILL."""

import collections
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from tests.e2e.test_worker_processes import ids_accepted
from tests.support.load import submit
from tests.support.postgres import (
    admin_connection,
    create_database,
    database_url,
    drop_database,
    unique_name,
)
from tests.support.processes import FakeProvider, start_worker
from tests.support.server import POSTROOM, server

EMAILS = 20_000
KILL_AFTER = 5_000  # emails sent before one worker is killed
CONCURRENCY = 32  # sends in flight per worker: the bound on duplicates from one SIGKILL
CLIENT_CONNECTIONS = 32
EMAIL = {
    "from": "Shop <shop@example.com>",
    "to": ["ann@example.org"],
    "subject": "Your order",
    "text": "Hello Ann,\n\nYour order has shipped.\n",
}


@pytest.fixture
def database() -> Iterator[str]:
    admin_connection().close()  # skip (or fail under CI) when PostgreSQL is absent
    name = unique_name("postroom_scale")
    create_database(name)
    yield name
    drop_database(name)


def states(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, int]:
    """How many emails are in each state, read from the database directly."""
    rows = conn.execute("SELECT state, count(*) FROM postroom_emails GROUP BY state").fetchall()
    return {str(state): int(str(n)) for state, n in rows}


def poll(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.25) -> None:
    """Check `condition` every `every` seconds (each check scans the table) until true; fail
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


@pytest.mark.slow
def test_20000_emails_two_apis_three_workers_one_sigkill(workdir: Path, database: str) -> None:
    """20,000 emails through 2 API processes and 3 workers, one SIGKILLed: none lost, few twice."""
    url = database_url(database)
    migrated = subprocess.run(
        [POSTROOM, "migrate", "--database-url", url], capture_output=True, text=True, timeout=60
    )
    assert migrated.returncode == 0, migrated.stderr
    fake = FakeProvider(workdir, "--latency-ms", "5")
    common = {
        # Migrated above, as at a deploy: the serving processes only read the schema version.
        "POSTROOM_DATABASE_URL": database_url(database, "migrate=off"),
        "POSTROOM_LOG_LEVEL": "warning",
    }
    api = server(workdir, common, command="api", args=["--processes", "2"]).start()
    env = {
        **api.env,
        "POSTROOM_PROVIDERS": f"mailgun://key@mg.example.com?base_url={fake.url}",
        "POSTROOM_CONCURRENCY": str(CONCURRENCY),
        "POSTROOM_VISIBILITY_TIMEOUT": "15",
    }
    workers = [start_worker(workdir, env) for _ in range(3)]
    try:
        with (
            psycopg.connect(url, autocommit=True) as conn,
            ThreadPoolExecutor(1) as pool,
        ):
            began = time.monotonic()
            submitting = pool.submit(submit, api.url, EMAIL, EMAILS, CLIENT_CONNECTIONS)
            poll(lambda: states(conn).get("sent", 0) >= KILL_AFTER, 180, "5,000 sent")
            intake_done_at_kill = submitting.done()
            killed_at = time.monotonic() - began
            workers[0].kill()
            assert workers[0].wait(30) == -signal.SIGKILL
            workers.append(start_worker(workdir, env))
            submitted = submitting.result(timeout=240)
            assert not submitted.refused, submitted.refused
            assert not submitted.errors, submitted.errors
            assert len(set(submitted.ids)) == EMAILS
            poll(lambda: states(conn).get("sent", 0) >= EMAILS, 240, "every email sent")
            all_sent_at = time.monotonic() - began
            assert states(conn) == {"sent": EMAILS}  # none failed, dead-lettered or pending
        counts = collections.Counter(ids_accepted(fake))
        assert set(counts) == set(submitted.ids)  # lost = 0
        duplicates = sum(n - 1 for n in counts.values())
        assert duplicates <= CONCURRENCY, (
            f"{duplicates} duplicates, more than the {CONCURRENCY} in flight in the killed worker"
        )
        for worker in workers[1:]:
            worker.send_signal(signal.SIGTERM)
        assert [worker.wait(60) for worker in workers[1:]] == [0, 0, 0]
        print(
            f"\nintake {submitted.per_second:,.0f}/s over {submitted.seconds:.0f} s; "
            f"kill at {killed_at:.0f} s (intake finished by then: {intake_done_at_kill}); "
            f"all sent at {all_sent_at:.0f} s; duplicates {duplicates}"
        )
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait(30)
        api.stop()
        fake.stop()
