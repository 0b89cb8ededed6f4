"""The API and the `postroom sqs` commands with an SQS queue (on moto) beside a SQLite store."""

import sqlite3
from pathlib import Path

import pytest

from tests.support.http import post_email, request
from tests.support.moto import MotoServer
from tests.support.server import run_cli, server
from tests.support.sqs import sqs_url

EMAIL = {"from": "a@example.com", "to": ["b@example.org"], "subject": "Hi", "text": "Hello"}


def stored(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute("SELECT count(*) FROM emails").fetchone()[0])


def test_no_queue_means_503_and_nothing_stored_until_it_is_created(
    workdir: Path, moto_server: MotoServer
) -> None:
    """Before `postroom sqs create-queues`, /readyz and POST answer 503 and the store keeps no
    email; once the queues exist, the same POST is accepted."""
    database = workdir / "postroom.db"
    env = {
        "POSTROOM_DATABASE_URL": f"sqlite:///{database}",
        "POSTROOM_QUEUE_URL": sqs_url(moto_server, "mail"),
    }
    api = server(workdir, env, command="api").start()
    try:
        assert request("GET", f"{api.url}/readyz").status == 503
        refused = post_email(api.url, EMAIL)
        assert refused.status == 503
        assert "retry-after" in refused.headers
        assert stored(database) == 0
        created = run_cli("sqs", "create-queues", env=env)
        assert created.returncode == 0, created.stderr
        assert "dead-letter queue:" in created.stdout
        assert "after 100 receives" in created.stdout
        assert request("GET", f"{api.url}/readyz").status == 200
        assert post_email(api.url, EMAIL).status == 202
        assert stored(database) == 1
    finally:
        api.stop()
    requeued = run_cli("sqs", "requeue", env=env)
    assert (requeued.returncode, requeued.stdout.strip()) == (0, "requeued: 1")


@pytest.mark.parametrize(
    ("queue_url", "says"),
    [
        ("sqs://us-east-1", "POSTROOM_QUEUE_URL"),
        ("postgresql://db/other", "POSTROOM_QUEUE_URL"),
        ("kafka://broker/topic", "POSTROOM_QUEUE_URL"),
    ],
)
def test_a_queue_url_that_cannot_be_used_is_one_line(
    tmp_path: Path, queue_url: str, says: str
) -> None:
    """A malformed SQS URL, or a second database as the queue, stops start-up naming the
    variable."""
    env = {"POSTROOM_DATABASE_URL": f"sqlite:///{tmp_path}/p.db", "POSTROOM_QUEUE_URL": queue_url}
    result = run_cli("check", env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0]


def test_requeue_needs_a_separate_queue(tmp_path: Path) -> None:
    result = run_cli("sqs", "requeue", env={"POSTROOM_DATABASE_URL": f"sqlite:///{tmp_path}/p.db"})
    assert result.returncode == 2
    assert "SQS" in result.stderr
