"""Proof at scale on PostgreSQL: two API processes, three workers, 20,000 emails, one SIGKILL."""

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
from tests.support.scale import deployment, kill_one_worker_midway

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
    with deployment(workdir, database, {}, CONCURRENCY, "15") as running:
        kill_one_worker_midway(
            database=url,
            submit=lambda: submit(running.api.url, EMAIL, EMAILS, CLIENT_CONNECTIONS),
            workers=running.workers,
            restart=running.start_worker,
            fake=running.fake,
            emails=EMAILS,
            kill_after=KILL_AFTER,
            in_flight=CONCURRENCY,
            timeout=240,
        )
