"""`postroom emails list|show` and `postroom stats` as an operator runs them, on the data of a
real `postroom api` (SQLite) and on PostgreSQL, whose circuits the stats show."""

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_suppressions_api import call, tenant_key
from tests.support.postgres import database_url, fresh_database
from tests.support.server import Server, run_cli, server


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = server(
        tmp_path_factory.mktemp("emails-cli"), {"POSTROOM_INSECURE_NO_AUTH": "false"}, "api"
    ).start()
    yield running
    running.stop()


def send(api: Server, token: str, **fields: Any) -> str:
    email = {"from": "Shop <shop@example.com>", "to": ["ann@example.org"], "subject": "Hi"}
    reply = call(api, "POST", "/api/v1/email", {**email, **fields}, token=token)
    assert reply.status == 202, reply.body
    return str(reply.json()["id"])


def cli(api: Server, *args: str) -> tuple[int, list[str], str]:
    done = run_cli(*args, env=api.env, cwd=api.workdir)
    return done.returncode, done.stdout.splitlines(), done.stderr


def listed_ids(lines: list[str]) -> list[str]:
    return [line.split()[0] for line in lines[1:]]


def test_emails_list_filters_as_the_api_does(api: Server) -> None:
    """The tenant's emails newest first, by state, tag and address (any case), up to --limit;
    another tenant's never."""
    tenant = "cli-acme"
    token = tenant_key(api, tenant)
    first = send(api, token, tags=["invoice"], cc=["Archive@example.org"])
    later = send(api, token, sendAt=time.time() + 3600, to=["bob@example.org"])
    send(api, tenant_key(api, "cli-other"))
    code, lines, _ = cli(api, "emails", "list", "--tenant", tenant)
    assert code == 0
    assert lines[0].split()[:2] == ["id", "status"]
    assert listed_ids(lines) == [later, first]
    assert "invoice" not in "\n".join(lines)  # a tag may name someone: it is not shown
    assert "queued" in lines[2]
    assert listed_ids(cli(api, "emails", "list", "--tenant", tenant, "--limit", "1")[1]) == [later]
    by_state = cli(api, "emails", "list", "--tenant", tenant, "--state", "scheduled")[1]
    assert listed_ids(by_state) == [later]
    assert listed_ids(cli(api, "emails", "list", "--tenant", tenant, "--tag", "invoice")[1]) == [
        first
    ]
    by_to = cli(api, "emails", "list", "--tenant", tenant, "--to", "ARCHIVE@example.org")[1]
    assert listed_ids(by_to) == [first]
    for line in lines:
        assert "ann@example.org" not in line
        assert "Hi" not in line.split()


def test_emails_list_refuses_a_bad_address(api: Server) -> None:
    """--to that is not an address is a usage error naming the flag."""
    code, _, err = cli(api, "emails", "list", "--to", "nope")
    assert code == 2
    assert err.startswith("postroom: error: --to:")


def test_emails_show_prints_the_status_the_api_gives(api: Server) -> None:
    """An email's status, times, attempts, events and recipients; an unknown id exits 1."""
    token = tenant_key(api)
    email_id = send(api, token)
    answer = call(api, "GET", f"/api/v1/email/{email_id}", token=token).json()
    code, lines, _ = cli(api, "emails", "show", email_id)
    assert code == 0
    assert lines[:5] == [
        f"id          {email_id}",
        "status      queued",
        f"created     {answer['createdAt']}",
        f"send at     {answer['sendAt']}",
        "attempts    0",
    ]
    assert lines[5] == "events:"
    assert lines[6].split()[:2] == [answer["events"][0]["at"], "queued"]
    assert lines[7] == "recipients:"
    assert lines[8].split() == ["ann@example.org", "queued"]
    for unknown in ("0190ffff-0000-7000-8000-000000000000", "nope"):
        code, _, err = cli(api, "emails", "show", unknown)
        assert (code, err.strip()) == (1, "postroom: no email with this id")


def test_stats_counts_the_queue(api: Server) -> None:
    """Ready, in flight, scheduled, dead and the oldest age; SQLite shares no circuits."""
    token = tenant_key(api)
    send(api, token)
    send(api, token, sendAt=time.time() + 3600)
    code, lines, _ = cli(api, "stats")
    assert code == 0
    counts = dict(line.rsplit(None, 1) for line in lines[:4])
    assert int(counts["ready"]) >= 1
    assert counts["in flight"].strip() == "0"
    assert int(counts["scheduled"]) >= 1
    assert lines[4].startswith("oldest age")
    assert lines[4].endswith(" s")
    assert lines[5] == "circuits: circuits are kept per worker process"


def test_stats_on_postgres_shows_the_shared_circuits() -> None:
    """PostgreSQL shares circuits between workers: `stats` says so, none recorded yet."""
    with fresh_database("postroom_stats") as name:
        done = run_cli("stats", env={"POSTROOM_DATABASE_URL": database_url(name)})
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[0].split() == ["ready", "0"]
        assert lines[-1] == "circuits: none recorded yet"
