"""The package as a new user gets it: the built wheel, installed with no extras into a clean
virtualenv, serves an email end to end; an adapter whose extra is missing says what to install.

The wheel's dependencies come from the package index, as for a user; pip's cache makes the second
run quick.
"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.server import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KEY = re.compile(r"pr_[A-Za-z0-9_-]{20,}")


def _run(
    *command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**_clean_environ(), **(env or {})},
        timeout=600,
    )


def _clean_environ() -> dict[str, str]:
    """The environment without our own settings or virtualenv, as on a user's machine."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    return {k: v for k, v in os.environ.items() if not k.startswith("POSTROOM_") and k not in drop}


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `postroom` command of a fresh virtualenv holding only the wheel and its core deps."""
    where = tmp_path_factory.mktemp("plain")
    built = _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", where / "dist", ROOT
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (where / "dist").glob("postroom-*.whl")
    venv = where / "venv"
    created = _run(sys.executable, "-m", "venv", venv)
    assert created.returncode == 0, created.stderr
    installed = _run(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel)
    assert installed.returncode == 0, installed.stderr
    return venv / "bin" / "postroom"


def test_help_runs(plain: Path) -> None:
    """`postroom --help` works from a plain install and lists the commands."""
    result = _run(plain, "--help")
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout
    assert "worker" in result.stdout


def test_no_extra_is_imported_by_default(plain: Path) -> None:
    """A plain install has none of the extras' drivers (so the next tests mean something)."""
    python = plain.parent / "python"
    probe = "import importlib.util as u; print([m for m in ('psycopg', 'aiobotocore', "
    probe += "'aiosmtplib', 'aiosmtpd', 'pytest') if u.find_spec(m)])"
    result = _run(python, "-c", probe)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


@pytest.fixture
def serving(plain: Path, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """`postroom serve` of the plain install on a fresh folder: its URL, a key, the folder."""
    created = _run(plain, "keys", "create", "--name", "plain", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    key = KEY.search(created.stdout + created.stderr)
    assert key, created.stdout + created.stderr
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - kept open for the process
    process = subprocess.Popen(
        [str(plain), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=_clean_environ(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(lambda: _answers(f"{url}/healthz"), process, tmp_path / "serve.log")
        yield url, key.group(0), tmp_path
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def test_serve_delivers_one_email_to_the_outbox(serving: tuple[str, str, Path]) -> None:
    """The plain install accepts an email with 202 and writes it to ./outbox as an .eml file."""
    url, key, folder = serving
    body = {"from": "shop@example.com", "to": ["ann@example.org"], "subject": "Plain install"}
    request = urllib.request.Request(
        f"{url}/api/v1/email",
        json.dumps({**body, "body": "Hello"}).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 202
        email_id = json.loads(answer.read())["id"]
    eml = folder / "outbox" / f"{email_id}.eml"
    deadline = time.monotonic() + 30
    while not eml.exists():
        assert time.monotonic() < deadline, "no .eml in the outbox after 30 s"
        time.sleep(0.05)
    assert b"Subject: Plain install" in eml.read_bytes()


def test_the_client_works_from_a_plain_install(plain: Path, serving: tuple[str, str, Path]) -> None:
    """`postroom.client` of the plain install sends an email and reads its status back."""
    url, key, _ = serving
    script = (
        "from postroom.client import Client\n"
        f"client = Client({url!r}, {key!r})\n"
        "sent = client.send({'from': 'a@example.com', 'to': ['b@example.org'], 'body': 'Hi'})\n"
        "print(client.get(sent.id)['id'] == sent.id)\n"
    )
    result = _run(plain.parent / "python", "-c", script)
    assert result.stdout.strip() == "True", result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variable", "url", "extra"),
    [
        ("POSTROOM_DATABASE_URL", "postgresql://127.0.0.1:5432/test", "postgres"),
        ("POSTROOM_QUEUE_URL", "sqs://us-east-1/emails", "sqs"),
        ("POSTROOM_PROVIDERS", "ses://us-east-1", "ses"),
        ("POSTROOM_PROVIDERS", "smtp://relay.example.com:587", "smtp"),
        ("POSTROOM_SMTP_PORT", "2525", "smtp"),  # the SMTP intake: aiosmtpd
    ],
)
def test_an_adapter_without_its_extra_names_the_install_line(
    plain: Path, tmp_path: Path, variable: str, url: str, extra: str
) -> None:
    """Configuring an adapter whose driver is not installed stops with the pip line to run."""
    result = _run(plain, "serve", "--port", str(free_port()), cwd=tmp_path, env={variable: url})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert f"pip install 'postroom[{extra}]'" in lines[0]
    assert "Traceback" not in result.stderr


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _wait(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"postroom serve did not start:\n{log.read_text()}")
        time.sleep(0.05)
