"""The `postroom` command as an operator uses it."""

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.http import post_email, request
from tests.support.server import POSTROOM, server


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [POSTROOM, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "names"),
    [
        ("POSTROOM_DATABASE_URL", "postgres-ish", "POSTROOM_DATABASE_URL"),
        ("POSTROOM_DATABASE_URL", "mysql://db/x", "POSTROOM_DATABASE_URL"),
        ("POSTROOM_DATABASE_URL", "sqlite://", "POSTROOM_DATABASE_URL"),
        ("POSTROOM_PROVIDERS", "outbox://./o, carrier-pigeon://coo", "POSTROOM_PROVIDERS"),
        ("POSTROOM_PORT", "eighty", "POSTROOM_PORT"),
    ],
)
def test_bad_configuration_is_one_line(
    tmp_path: Path, variable: str, value: str, names: str
) -> None:
    """A malformed URL or value stops start-up with one line naming the variable, no traceback."""
    result = run("check", env={variable: value}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert names in lines[0]
    assert "Traceback" not in result.stderr


def test_flag_overrides_the_environment(tmp_path: Path) -> None:
    """--database-url wins over POSTROOM_DATABASE_URL."""
    result = run(
        "check",
        "--database-url",
        f"sqlite:///{tmp_path}/ok.db",
        env={"POSTROOM_DATABASE_URL": "nope"},
    )
    assert (result.returncode, result.stdout.strip()) == (0, "storage ok")


def test_check_fails_when_storage_is_unreachable(tmp_path: Path) -> None:
    """`postroom check` exits 1 when the database cannot be opened."""
    result = run("check", env={"POSTROOM_DATABASE_URL": f"sqlite:///{tmp_path}/no/such/dir.db"})
    assert result.returncode == 1
    assert "unreachable" in result.stderr


@pytest.mark.parametrize("command", ["serve", "api", "worker", "check"])
def test_help_names_each_flags_variable(command: str) -> None:
    """Every flag in --help shows the POSTROOM_* variable it can also be set by."""
    result = run(command, "--help")
    flags = [
        line.split()[0] for line in result.stdout.splitlines() if line.strip().startswith("--")
    ]
    assert flags
    text = " ".join(result.stdout.split())
    assert text.count("[env POSTROOM_") == len(flags)


def test_serve_delivers_to_the_outbox_and_stops_cleanly(workdir: Path) -> None:
    """The quick start: serve, POST, the email lands as an .eml file; SIGTERM exits 0."""
    serve = server(workdir).start()
    reply = post_email(
        serve.url,
        {
            "from": "shop@example.com",
            "to": ["ann@example.org"],
            "subject": "Hello",
            "body": "It works",
        },
    )
    assert reply.status == 202
    email_id = reply.json()["id"]
    eml = workdir / "outbox" / f"{email_id}.eml"
    deadline = time.monotonic() + 30
    while not eml.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b"Subject: Hello" in eml.read_bytes()
    assert f"Message-ID: <{email_id}@example.com>".encode() in eml.read_bytes()
    assert request("GET", f"{serve.url}/api/v1/email/{email_id}").json()["status"] == "sent"
    assert serve.stop(signal.SIGTERM) == 0


def test_worker_command_delivers(workdir: Path) -> None:
    """`postroom api` accepts, a separate `postroom worker` delivers, SIGTERM stops it with 0."""
    api = server(workdir, command="api").start()
    email_id = post_email(api.url, {"from": "shop@example.com", "to": ["ann@example.org"]}).json()[
        "id"
    ]
    import os

    worker = subprocess.Popen(
        [POSTROOM, "worker"],
        env={**os.environ, **api.env},
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if request("GET", f"{api.url}/api/v1/email/{email_id}").json()["status"] == "sent":
                break
            time.sleep(0.05)
        assert (workdir / "outbox" / f"{email_id}.eml").exists()
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        api.stop()
