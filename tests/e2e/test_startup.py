"""The first minutes of a new user: the start-up banner, log formats, start-up errors."""

import base64
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.http import post_email
from tests.support.postgres import database_url, fresh_database
from tests.support.server import POSTROOM, free_port, run_cli, server

SECRETS = ("key-SECRETMG", "SG.SECRETSG", "SECRETPW")


def test_banner_says_where_to_send_where_emails_are_and_hides_secrets(workdir: Path) -> None:
    """`serve` prints the API and docs URLs, the database file, the outbox, the providers in
    order with their keys masked, and how to run the CLI; no uvicorn start-up line."""
    providers = (
        "mailgun://key-SECRETMG@mg.example.com?base_url=http://127.0.0.1:1,"
        "sendgrid://SG.SECRETSG,outbox://./outbox"
    )
    serve = server(workdir, {"POSTROOM_PROVIDERS": providers}).start()
    serve.stop()
    out = serve.output()
    assert f"API        {serve.url}/api/v1/email" in out
    assert f"API docs   {serve.url}/docs" in out
    assert f"(file {workdir}/postroom.db)" in out
    assert f"Outbox     {workdir}/outbox" in out
    assert "1. mailgun://***@mg.example.com?base_url=http://127.0.0.1:1" in out
    assert "2. sendgrid://***" in out
    assert "3. outbox://./outbox" in out
    assert "postroom keys list" in out
    assert "Uvicorn running" not in out
    assert not [secret for secret in SECRETS if secret in out]


def test_banner_masks_the_database_password(workdir: Path) -> None:
    """A PostgreSQL URL with a password is shown with `***` in its place."""
    with fresh_database("banner") as name:
        url = database_url(name).replace("postgres@", "postgres:SECRETPW@", 1)
        api = server(workdir, {"POSTROOM_DATABASE_URL": url}, command="api").start()
        api.stop()
    out = api.output()
    assert f"Storage    postgresql://postgres:***@127.0.0.1:5432/{name}" in out
    assert "SECRETPW" not in out


def test_logs_are_json_lines_when_not_a_terminal(workdir: Path) -> None:
    """With stderr a file, every log line is a JSON object with the usual fields."""
    serve = server(workdir).start()
    serve.stop()
    logged = [line for line in serve.output().splitlines() if line.startswith("{")]
    events = [json.loads(line)["event"] for line in logged]
    assert "worker.started" in events
    assert "worker.stopped" in events


@pytest.mark.parametrize(
    ("env", "args"),
    [
        ({"POSTROOM_LOG_FORMAT": "text"}, []),
        ({"POSTROOM_LOG_FORMAT": "json"}, ["--log-format", "text"]),
    ],
)
def test_text_logs_when_asked(workdir: Path, env: dict[str, str], args: list[str]) -> None:
    """POSTROOM_LOG_FORMAT=text (or --log-format text, which wins) gives readable lines with
    the same fields, and no JSON."""
    serve = server(workdir, env, args=args).start()
    serve.stop()
    lines = serve.output().splitlines()
    assert not [line for line in lines if line.startswith("{")]
    assert [line for line in lines if "postroom.worker  worker.started  concurrency=32" in line]


def test_text_logs_on_a_terminal(workdir: Path) -> None:
    """With stderr a terminal and no setting, the log lines are text."""
    base = server(workdir)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [POSTROOM, "serve", "--port", str(base.port)],
        cwd=workdir,
        env={**os.environ, **base.env},
        stdout=subprocess.DEVNULL,
        stderr=follower,
        start_new_session=True,
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 30
    try:
        while b"worker.started" not in seen and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.5)[0]:
                seen += os.read(leader, 4096)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        os.close(leader)
    assert b"postroom.worker  worker.started  concurrency=32" in seen
    assert b'"event"' not in seen


def test_bad_provider_url_on_a_fresh_directory_creates_nothing(workdir: Path) -> None:
    """A provider URL that does not parse stops `serve` (exit 2, one line) before the first
    API key is made: the rerun with a good URL prints the key."""
    env = {**server(workdir).env, "POSTROOM_INSECURE_NO_AUTH": "false"}
    bad = run_cli("serve", env={**env, "POSTROOM_PROVIDERS": "mailgun://no-domain"}, cwd=workdir)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1
    assert bad.stderr.startswith("postroom: error: POSTROOM_PROVIDERS: mailgun")
    assert "API key" not in bad.stdout
    good = server(workdir, {"POSTROOM_INSECURE_NO_AUTH": "false"}).start()
    good.stop()
    assert "Created the first API key" in good.output()


@pytest.mark.parametrize("command", ["serve", "api", "worker", "check"])
def test_missing_directory_stops_start_up(workdir: Path, command: str) -> None:
    """`sqlite:///./missing/dir/x.db`: exit 1 and one line naming the variable, the directory
    and why; no traceback, no key, no banner."""
    result = run_cli(
        command, env={"POSTROOM_DATABASE_URL": "sqlite:///./missing/dir/x.db"}, cwd=workdir
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"postroom: error: POSTROOM_DATABASE_URL: cannot use {workdir}/missing/dir/x.db: "
        f"directory {workdir}/missing/dir does not exist"
    ]
    assert result.stdout == ""


def test_a_directory_as_the_database_stops_start_up(workdir: Path) -> None:
    """A database path that is a directory: exit 1 with the path and the cause."""
    (workdir / "db").mkdir()
    result = run_cli("serve", env={"POSTROOM_DATABASE_URL": "sqlite:///./db"}, cwd=workdir)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"postroom: error: POSTROOM_DATABASE_URL: cannot use {workdir}/db: it is a directory"
    )


# Root writes to read-only files through its capabilities: as root, the command runs with
# those dropped (util-linux setpriv), so permissions bind it as they bind any service user.
AS_A_USER = (
    ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    if os.geteuid() == 0
    else []
)


@pytest.mark.skipif(
    bool(AS_A_USER) and shutil.which("setpriv") is None, reason="root without setpriv"
)
@pytest.mark.parametrize("what", ["file", "directory"])
def test_read_only_storage_stops_start_up(workdir: Path, what: str) -> None:
    """A read-only database file or directory: exit 1 naming the path and what is not writable."""
    folder = workdir / "data"
    folder.mkdir()
    (folder / "x.db").touch()
    (folder / "x.db" if what == "file" else folder).chmod(0o555)
    try:
        result = subprocess.run(
            [*AS_A_USER, POSTROOM, "serve"],
            capture_output=True,
            text=True,
            env={**os.environ, "POSTROOM_DATABASE_URL": f"sqlite:///{folder}/x.db"},
            cwd=workdir,
            timeout=60,
        )
    finally:
        folder.chmod(0o755)
    assert result.returncode == 1
    line = result.stderr.strip()
    assert line.startswith(f"postroom: error: POSTROOM_DATABASE_URL: cannot use {folder}/x.db: ")
    assert ("cannot write the file" if what == "file" else "is not writable") in line


@pytest.mark.parametrize("command", ["serve", "check"])
def test_unreachable_postgres_stops_start_up(workdir: Path, command: str) -> None:
    """Nothing listening at the PostgreSQL port: exit 1 with host:port and the cause."""
    port = free_port()
    url = f"postgresql://postroom:SECRETPW@127.0.0.1:{port}/postroom"
    result = run_cli(command, env={"POSTROOM_DATABASE_URL": url}, cwd=workdir)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"postroom: error: POSTROOM_DATABASE_URL: cannot connect to PostgreSQL at "
        f"127.0.0.1:{port}: Connection refused"
    ]


def test_outage_after_start_is_503_and_logged_once_per_ten_seconds(workdir: Path) -> None:
    """Storage full after start: every POST is 503 with Retry-After; the warning is one line."""
    big = base64.b64encode(os.urandom(60_000)).decode()
    email = {"from": "a@example.com", "to": ["b@example.org"]}
    email["attachments"] = [{"filename": "f.bin", "content": big}]  # type: ignore[list-item]
    env = {"POSTROOM_DATABASE_URL": f"sqlite:///{workdir}/postroom.db?max_size_mb=2"}
    api = server(workdir, env, command="api").start()
    try:
        replies = [post_email(api.url, email) for _ in range(25)]
        started = time.monotonic()
        replies += [post_email(api.url, email) for _ in range(30)]
        elapsed = time.monotonic() - started
    finally:
        api.stop()
    refused = [reply for reply in replies if reply.status == 503]
    assert len(refused) > 20, [reply.status for reply in replies]
    assert all(reply.headers["retry-after"].isdigit() for reply in refused)
    warnings = [line for line in api.output().splitlines() if "email.storage_unavailable" in line]
    # One line per 10 s at most: the refusals came within a few seconds.
    assert 1 <= len(warnings) <= 2 + int(elapsed // 10), (len(refused), warnings)


def test_encrypted_content_without_its_key_reads_cleanly(workdir: Path) -> None:
    """Starting without the key that sealed stored content says so in one plain sentence."""
    key = run_cli("encryption", "new-key", env={}, cwd=workdir).stdout.strip()
    first = server(workdir, {"POSTROOM_ENCRYPTION_KEYS": key}, command="api").start()
    assert post_email(first.url, {"from": "a@example.com", "to": ["b@example.org"]}).status == 202
    first.stop()
    result = run_cli("api", env={**first.env, "POSTROOM_ENCRYPTION_KEYS": ""}, cwd=workdir)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "postroom: error: POSTROOM_ENCRYPTION_KEYS: cannot open stored content: "
        "content is encrypted but POSTROOM_ENCRYPTION_KEYS is not set"
    )
