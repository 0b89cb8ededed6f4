"""The simulator and workers as separate processes, started with the real `postroom` command."""

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.server import POSTROOM, free_port


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until true; fail after `timeout` seconds (a bound, not a pause)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class FakeProvider:
    """`postroom fake-provider` on a free port. `webhook_urls` ({provider: URL}) become its
    --webhook-url flags: that provider then posts its webhooks there."""

    def __init__(
        self, workdir: Path, *flags: str, webhook_urls: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"fake-provider-{self.port}.log"
        for provider, url in (webhook_urls or {}).items():
            flags = (*flags, "--webhook-url", f"{provider}={url}")
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [POSTROOM, "fake-provider", "--port", str(self.port), *flags],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self._answers, 30, "the fake provider to start")

    def _answers(self) -> bool:
        try:
            self.behaviour({})
        except OSError:
            return False
        return True

    def mailgun_then_sendgrid(self) -> str:
        """POSTROOM_PROVIDERS for two providers of this simulator, in that order: the shape
        of every failover test."""
        return f"mailgun://key@mg.example.com?base_url={self.url},sendgrid://SG.key?base_url={self.url}"

    def behaviour(self, changes: dict[str, Any]) -> dict[str, Any]:
        return self._post("/_sim/behaviour", changes)

    def webhooks(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the webhook settings (`POST /_sim/webhooks`); the settings as they now are."""
        return self._post("/_sim/webhooks", changes)

    def webhooks_sent(self) -> dict[str, Any]:
        """`{"count", "pending", "sent": [...]}`: the webhook requests made so far."""
        with urllib.request.urlopen(f"{self.url}/_sim/webhooks/sent", timeout=30) as reply:
            return json.loads(reply.read())  # type: ignore[no-any-return]

    def _post(self, path: str, changes: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(changes).encode()
        req = urllib.request.Request(
            f"{self.url}{path}", data, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5) as reply:
            return json.loads(reply.read())  # type: ignore[no-any-return]

    def accepted(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_sim/accepted", timeout=30) as reply:
            return json.loads(reply.read())  # type: ignore[no-any-return]

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(30)


def start_worker(workdir: Path, env: dict[str, str], *flags: str) -> subprocess.Popen[bytes]:
    with open(workdir / f"worker-{time.monotonic_ns()}.log", "wb") as log:
        return subprocess.Popen(
            [POSTROOM, "worker", *flags],
            cwd=workdir,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
