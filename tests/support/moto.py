"""moto's standalone AWS server (SES, SQS) for the tests: one process per test session, on a
free 127.0.0.1 port, emptied for each test, with a clock the tests can move forward."""

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import free_port

LAUNCHER = Path(__file__).with_name("moto_clock.py")


def service_missing(what: str) -> None:
    """Skip locally when a test service is absent; fail in CI, where it must be present."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not installed")


@dataclass
class MotoServer:
    url: str
    clock_file: Path

    def call(self, path: str, method: str = "GET") -> Any:
        """Moto's own API (`/moto-api/...`), parsed."""
        req = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(req, timeout=10) as reply:
            body = reply.read()
        return json.loads(body) if body.strip().startswith((b"{", b"[")) else body

    def raw_messages(self) -> list[dict[str, Any]]:
        """What SES SendEmail (Raw) recorded: id, source, destinations, raw_data."""
        return list(self.call("/moto-api/data.json")["ses"]["RawMessage"])

    def reset(self) -> None:
        self.call("/moto-api/reset", method="POST")
        self.clock_file.write_text("0")

    def shift(self, seconds: float) -> None:
        """Move the server's clock forward (see moto_clock.py)."""
        text = self.clock_file.read_text().strip()
        self.clock_file.write_text(repr(float(text or 0) + seconds))


def _wait_until_answers(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("moto's server exited during start-up")
        try:
            with urllib.request.urlopen(url + "/moto-api/data.json", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto's server did not answer within {timeout} s")


@contextlib.contextmanager
def running_moto(workdir: Path) -> Iterator[MotoServer]:
    """Start the server (it takes a second or two) and stop it afterwards."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        service_missing("moto[server]")
    port = free_port()
    clock_file = workdir / "clock"
    clock_file.write_text("0")
    env = {**os.environ, "MOTO_CLOCK_FILE": str(clock_file)}
    with open(workdir / "moto.log", "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-P", str(LAUNCHER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answers(url, process, timeout=30)
        yield MotoServer(url, clock_file)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def use_fake_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Moto's dummy credentials in this test's environment only; never a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    # Keep the developer's ~/.aws out of it, and never ask an instance metadata service.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
