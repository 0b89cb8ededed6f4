"""Run the real `postroom` command as a subprocess, the way a user starts it."""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.http import request

POSTROOM = str(Path(sys.executable).parent / "postroom")


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`postroom ARGS` to completion, as a user runs it: the environment plus `env`, its output
    captured as text."""
    return subprocess.run(
        [POSTROOM, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    workdir: Path
    port: int
    env: dict[str, str]
    command: str = "serve"
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "Server":
        self.log = self.workdir / f"server-{time.monotonic_ns()}.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [POSTROOM, self.command, "--port", str(self.port), *self.args],
                cwd=self.workdir,
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                if request("GET", f"{self.url}/healthz", timeout=1).status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server not ready after {timeout}s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        return self.process.wait(timeout)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""


def server(
    workdir: Path,
    env: dict[str, str] | None = None,
    command: str = "serve",
    args: list[str] | None = None,
) -> Server:
    """A server (not yet started) with its data and outbox inside `workdir`."""
    base = {
        "POSTROOM_DATABASE_URL": f"sqlite:///{workdir}/postroom.db",
        # Most tests are about something else; tests/e2e/test_auth.py runs with keys.
        "POSTROOM_INSECURE_NO_AUTH": "true",
        "POSTROOM_PROVIDERS": f"outbox://{workdir}/outbox",
    }
    return Server(workdir, free_port(), {**base, **(env or {})}, command, args or [])
