"""Start and stop the servers the benchmarks measure, each in its own process group."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def wait_ready(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers: that is all "ready" means here
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not become ready")


@contextmanager
def running(
    command: list[str], ready_url: str | None, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if ready_url is not None:
            wait_ready(ready_url)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def create_key(env: dict[str, str]) -> str:
    """A new API key in the store `env` names (`postroom keys create`), as its token."""
    return subprocess.run(
        [str(BIN / "postroom"), "keys", "create", "--name", "bench"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def intake_env(data: Path, rate_limit: int) -> dict[str, str]:
    """A `postroom api` on a new SQLite file in `data`, quiet, with per-key limits on but high
    enough never to refuse: their cost is part of every request."""
    return {
        "POSTROOM_DATABASE_URL": f"sqlite:///{data}/bench.db",
        "POSTROOM_LOG_LEVEL": "warning",
        "POSTROOM_RATE_LIMIT": str(rate_limit),
        "POSTROOM_DAILY_QUOTA": "1000000000",
    }
