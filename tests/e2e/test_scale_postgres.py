"""Proof at scale on PostgreSQL: two API processes, three workers, 20,000 emails, one SIGKILL."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.load import submit
from tests.support.postgres import (
    admin_connection,
    create_database,
    database_url,
    drop_database,
    unique_name,
)
from tests.support.processes import FakeProvider, start_worker
from tests.support.scale import kill_one_worker_midway
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
        kill_one_worker_midway(
            database=url,
            submit=lambda: submit(api.url, EMAIL, EMAILS, CLIENT_CONNECTIONS),
            workers=workers,
            restart=lambda: start_worker(workdir, env),
            fake=fake,
            emails=EMAILS,
            kill_after=KILL_AFTER,
            in_flight=CONCURRENCY,
            timeout=240,
        )
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait(30)
        api.stop()
        fake.stop()
