"""Postroom's processes on PostgreSQL, as an operator runs them."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from tests.e2e.test_logs_privacy import CANARY, canary_email
from tests.support.http import post_email, request
from tests.support.postgres import database_url, fresh_database
from tests.support.processes import wait_for
from tests.support.server import POSTROOM, server


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database("postroom_e2e") as name:
        yield database_url(name)


def everything_stored(url: str) -> str:
    """Every row of every table in the database, as text."""
    import psycopg

    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        return "\n".join(
            str(row[0])
            for table in tables
            for row in conn.execute(
                sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(table))
            )
        )


def test_serve_on_postgres_delivers(workdir: Path, database: str) -> None:
    """`postroom migrate`, then serve on PostgreSQL: accepted, sent, status readable."""
    migrated = subprocess.run(
        [POSTROOM, "migrate", "--database-url", database],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrated.returncode == 0, migrated.stderr
    serve = server(workdir, {"POSTROOM_DATABASE_URL": database}).start()
    try:
        email_id = post_email(
            serve.url, {"from": "a@example.com", "to": ["b@example.org"], "subject": "pg"}
        ).json()["id"]
        wait_for(
            lambda: (
                request("GET", f"{serve.url}/api/v1/email/{email_id}").json()["status"] == "sent"
            ),
            30,
            "sent",
        )
        assert (workdir / "outbox" / f"{email_id}.eml").exists()
    finally:
        serve.stop()


def test_no_canary_in_postgres_tables(workdir: Path, database: str) -> None:
    """With encryption keys set, no personal data is readable in any PostgreSQL table."""
    key = subprocess.run(
        [POSTROOM, "encryption", "new-key"], capture_output=True, text=True, check=True
    ).stdout.strip()
    api = server(
        workdir, {"POSTROOM_DATABASE_URL": database, "POSTROOM_ENCRYPTION_KEYS": key}, command="api"
    ).start()
    try:
        reply = post_email(api.url, canary_email("pg"), **{"Idempotency-Key": f"{CANARY}-order"})
        assert reply.status == 202
    finally:
        api.stop()
    stored = everything_stored(database)
    assert reply.json()["id"] in stored  # the rows are there...
    assert CANARY not in stored  # ...and none of the content is readable
    assert "example.org" not in stored
