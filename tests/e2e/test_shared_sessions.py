"""Logins to the dashboard and the dev inbox are kept in the store: two `postroom api` processes
on one SQLite file or one PostgreSQL database (as POSTROOM_PROCESSES or several hosts run them)
honour each other's sessions, a restart keeps them, and revoking the key ends them."""

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.support.http import Reply, request
from tests.support.keys import create_key
from tests.support.postgres import database_url, fresh_database
from tests.support.server import Server, run_cli, server

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, workdir: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{workdir}/postroom.db"
        return
    with fresh_database("postroom_sessions") as name:
        yield database_url(name)


@pytest.fixture
def pair(workdir: Path, database: str) -> Iterator[tuple[Server, Server]]:
    """Two API processes on their own ports, one store, keys required."""
    env = {"POSTROOM_DATABASE_URL": database, "POSTROOM_INSECURE_NO_AUTH": "false"}
    one = server(workdir, env, command="api").start()
    other = server(workdir, env, command="api").start()
    try:
        yield one, other
    finally:
        for running in (one, other):
            if running.process is not None and running.process.poll() is None:
                running.stop()


def log_in(serve: Server, pages: str, key: str) -> str:
    """The `Cookie` header the login answered with."""
    form = urlencode({"key": key, "csrf": ""}).encode()
    reply = request("POST", f"{serve.url}/{pages}/login", raw=form, headers=FORM)
    assert reply.status == 303, reply.body
    return reply.headers["set-cookie"].split(";")[0]


def get(serve: Server, path: str, cookie: str) -> Reply:
    return request("GET", f"{serve.url}{path}", headers={"Cookie": cookie})


def form_token(serve: Server, cookie: str) -> str:
    page = get(serve, "/dashboard", cookie)
    assert page.status == 200
    found = re.search(r"name='csrf-token' content='([^']+)'", page.body.decode())
    assert found is not None
    return found.group(1)


def stored_sessions(database: str) -> str:
    """Every row of the sessions table, as text."""
    if database.startswith("sqlite"):
        conn = sqlite3.connect(database.removeprefix("sqlite:///"))
        try:
            return str(conn.execute("SELECT * FROM sessions").fetchall())
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(database) as conn:
        return str(conn.execute("SELECT * FROM postroom_sessions").fetchall())


def test_a_login_holds_in_every_process_and_across_a_restart(
    pair: tuple[Server, Server], database: str
) -> None:
    """A dashboard login taken by one process opens the dashboard on the other, with the same
    form token; an inbox login likewise; neither cookie opens the other's pages; the store
    keeps neither the token nor the key; once both processes stop and one starts again, the
    session still holds, and logging out ends it (and only it)."""
    one, other = pair
    key = create_key(one, "operator", "admin")
    board = log_in(one, "dashboard", key)
    assert get(other, "/dashboard/api/overview", board).status == 200
    assert form_token(other, board) == form_token(one, board)
    inbox = log_in(other, "inbox", key)
    assert get(one, "/inbox/api/messages", inbox).status == 200
    token = board.partition("=")[2]
    assert get(one, "/inbox/api/messages", f"postroom_inbox={token}").status == 401
    assert token not in stored_sessions(database)
    assert key not in stored_sessions(database)
    one.stop()
    other.stop()
    one.start()
    assert get(one, "/dashboard/api/overview", board).status == 200
    csrf = urlencode({"csrf": form_token(one, board)}).encode()
    logout = request(
        "POST", f"{one.url}/dashboard/logout", raw=csrf, headers={**FORM, "Cookie": board}
    )
    assert logout.status == 303
    assert get(one, "/dashboard/api/overview", board).status == 401
    assert get(one, "/inbox/api/messages", inbox).status == 200


def test_a_revoked_keys_session_is_refused_by_every_process(
    pair: tuple[Server, Server],
) -> None:
    """Revoking the key a session was made from ends the session in every process at the next
    request: the JSON answers 401 and the page sends the browser to the login."""
    one, other = pair
    key = create_key(one, "operator", "admin")
    cookie = log_in(one, "dashboard", key)
    assert get(other, "/dashboard/api/overview", cookie).status == 200
    revoked = run_cli("keys", "revoke", key[:13], env=one.env, cwd=one.workdir)
    assert revoked.returncode == 0, revoked.stderr
    for serve in (other, one):
        assert get(serve, "/dashboard/api/overview", cookie).status == 401
        page = get(serve, "/dashboard", cookie)
        assert (page.status, page.headers["location"]) == (303, "/dashboard/login")
