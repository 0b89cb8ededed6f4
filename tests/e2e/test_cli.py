"""The `postroom` command as an operator uses it."""

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from postroom.settings import options
from tests.support.http import post_email, request
from tests.support.server import POSTROOM, run_cli, server


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
    result = run_cli("check", env={variable: value}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert names in lines[0]
    assert "Traceback" not in result.stderr


def test_flag_overrides_the_environment(tmp_path: Path) -> None:
    """--database-url wins over POSTROOM_DATABASE_URL."""
    result = run_cli(
        "check",
        "--database-url",
        f"sqlite:///{tmp_path}/ok.db",
        env={"POSTROOM_DATABASE_URL": "nope"},
    )
    assert (result.returncode, result.stdout.strip()) == (0, "storage ok")


def test_check_fails_when_storage_is_unreachable(tmp_path: Path) -> None:
    """`postroom check` exits 1 with one line naming the variable, the directory and why."""
    result = run_cli("check", env={"POSTROOM_DATABASE_URL": f"sqlite:///{tmp_path}/no/such/dir.db"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"postroom: error: POSTROOM_DATABASE_URL: cannot use {tmp_path}/no/such/dir.db: "
        f"directory {tmp_path}/no/such does not exist"
    ]


@pytest.mark.parametrize("command", ["serve", "api", "worker", "check"])
def test_help_names_each_flags_variable(command: str) -> None:
    """Every setting's flag in --help shows the POSTROOM_* variable it can also be set by."""
    result = run_cli(command, "--help")
    flags = [
        line.split()[0]
        for line in result.stdout.splitlines()
        if line.strip().startswith("--")
        and line.split()[0].removeprefix("--").replace("-", "_") in options()
        # `check --providers` is a switch (probe the providers), not the setting.
        and (command, line.split()[0]) != ("check", "--providers")
    ]
    assert flags
    text = " ".join(result.stdout.split())
    assert text.count("[env POSTROOM_") == len(flags)


def readme_settings() -> list[tuple[str, str]]:
    """(variable, command) for each variable of the README's Configuration table; the command
    is the one a row names (`postroom worker` only, `postroom api`), else `serve`."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `POSTROOM_")]
    found = []
    for row in rows:
        cells = row.split("|")
        named = re.search(r"`postroom (\w+)`", cells[3])
        for variable in re.findall(r"`(POSTROOM_\w+)`", cells[1]):
            found.append((variable, named.group(1) if named else "serve"))
    return found


def test_readme_table_is_read() -> None:
    """The README walk below sees the whole Configuration table, not an empty list."""
    variables = dict(readme_settings())
    assert len(variables) >= 20
    assert variables["POSTROOM_METRICS_PORT"] == "worker"
    assert variables["POSTROOM_PROCESSES"] == "api"


@pytest.mark.parametrize(("variable", "command"), readme_settings())
def test_every_readme_setting_is_a_flag(variable: str, command: str) -> None:
    """Each variable the README documents is a flag of the command it is for, with its
    variable, a placeholder and its default in --help."""
    flag = "--" + variable.removeprefix("POSTROOM_").lower().replace("_", "-")
    lines = run_cli(command, "--help").stdout.splitlines()
    entry = [line.split() for line in lines if line.strip().startswith(f"{flag} ")]
    assert entry, f"postroom {command} has no {flag}"
    text = " ".join(run_cli(command, "--help").stdout.split())
    assert f"[env {variable}; default " in text
    if variable != "POSTROOM_INSECURE_NO_AUTH":  # a switch takes no value
        placeholder = entry[0][1]
        assert placeholder.isupper(), entry[0]
        assert placeholder != "VALUE", entry[0]


@pytest.mark.parametrize(
    "variable",
    [
        "POSTROOM_VISIBILITY_TIMEOUT",
        "POSTROOM_METRICS_PORT",
        "POSTROOM_CONCURRENCY",
        "POSTROOM_MAX_ATTEMPTS",
        "POSTROOM_ENCRYPTION_KEYS",
        "POSTROOM_RETENTION_DAYS",
        "POSTROOM_LOG_FORMAT",
    ],
)
def test_worker_takes_the_worker_settings(variable: str) -> None:
    """`postroom worker --help` lists each setting a worker uses."""
    assert f"[env {variable};" in " ".join(run_cli("worker", "--help").stdout.split())


def test_help_shows_placeholders_and_defaults() -> None:
    """--help names what a flag takes (URL, PORT) and its default."""
    text = " ".join(run_cli("serve", "--help").stdout.split())
    assert "--database-url URL " in text
    assert "--port PORT " in text
    assert "default sqlite:///./postroom.db]" in text
    assert "[env POSTROOM_PORT; default 8080]" in text


def test_space_between_provider_urls_is_refused(tmp_path: Path) -> None:
    """`outbox://./o1 outbox://./o2` is an error naming the variable; commas with spaces work."""
    spaced = run_cli(
        "check", env={"POSTROOM_PROVIDERS": "outbox://./o1 outbox://./o2"}, cwd=tmp_path
    )
    assert spaced.returncode == 2
    assert spaced.stderr.startswith("postroom: error: POSTROOM_PROVIDERS: ")
    assert "commas" in spaced.stderr
    commas = run_cli(
        "check", env={"POSTROOM_PROVIDERS": "outbox://./o1 , outbox://./o2"}, cwd=tmp_path
    )
    assert (commas.returncode, commas.stdout.strip()) == (0, "storage ok")


def keys(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("keys", *args, env={"POSTROOM_DATABASE_URL": f"sqlite:///{tmp_path}/k.db"})


def key_ids(tmp_path: Path) -> list[str]:
    listing = keys(tmp_path, "list").stdout.splitlines()[1:]
    return [line.split()[0] for line in listing]


def test_revoke_takes_a_unique_prefix_of_the_id(tmp_path: Path) -> None:
    """`keys revoke` accepts the start of an id; a second revoke of it says it is revoked."""
    assert keys(tmp_path, "create", "--name", "ci").returncode == 0
    (key_id,) = key_ids(tmp_path)
    revoked = keys(tmp_path, "revoke", key_id[:8])
    assert (revoked.returncode, revoked.stdout.strip()) == (0, f"revoked {key_id} (ci)")
    again = keys(tmp_path, "revoke", key_id[:8])
    assert again.returncode == 1
    assert "already revoked" in again.stderr


def test_revoke_refuses_an_ambiguous_or_unknown_prefix(tmp_path: Path) -> None:
    """A prefix of several keys is refused saying so, and nothing is revoked."""
    for name in ("one", "two"):
        assert keys(tmp_path, "create", "--name", name).returncode == 0
    result = keys(tmp_path, "revoke", "")  # every id starts with the empty string
    assert result.returncode == 1
    assert "no key" in result.stderr
    ambiguous = keys(tmp_path, "revoke", "pr_")  # every shown prefix starts so
    assert ambiguous.returncode == 1
    assert "matches 2 keys" in ambiguous.stderr
    rows = keys(tmp_path, "list").stdout.splitlines()[1:]
    assert [row.split()[-1] for row in rows] == ["-", "-"]  # the revoked column


@pytest.mark.parametrize("name", ["", "   "])
def test_create_refuses_an_empty_name(tmp_path: Path, name: str) -> None:
    """`keys create --name ""` is refused and creates nothing."""
    result = keys(tmp_path, "create", "--name", name)
    assert result.returncode == 2
    assert "--name" in result.stderr
    assert key_ids(tmp_path) == []


def test_create_refuses_a_name_in_use(tmp_path: Path) -> None:
    """A second key with the name of a key in use is refused; once revoked, the name is free."""
    assert keys(tmp_path, "create", "--name", "ci").returncode == 0
    twice = keys(tmp_path, "create", "--name", "ci")
    assert twice.returncode == 2
    assert "exists" in twice.stderr
    assert len(key_ids(tmp_path)) == 1
    assert keys(tmp_path, "revoke", key_ids(tmp_path)[0]).returncode == 0
    assert keys(tmp_path, "create", "--name", "ci").returncode == 0
    assert len(key_ids(tmp_path)) == 2


def test_redrive_of_an_unknown_id_says_so(tmp_path: Path) -> None:
    """`dead redrive --id UNKNOWN` exits 1 with "no such dead letter"."""
    result = run_cli(
        "dead",
        "redrive",
        "--id",
        "0190-unknown",
        env={"POSTROOM_DATABASE_URL": f"sqlite:///{tmp_path}/d.db"},
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "postroom: no such dead letter: 0190-unknown"


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
