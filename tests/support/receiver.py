"""An application's webhook endpoint, as a test plays it: a real HTTP server on 127.0.0.1 that
verifies every request with the `standardwebhooks` package (a receiver no one here wrote),
answers with the statuses it is told, and can hang until released."""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support.processes import wait_for


@dataclass
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int  # what the receiver answered

    @property
    def payload(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found


@dataclass
class Receiver:
    """`statuses` are answered in turn, then `status` for ever after."""

    secret: str = ""
    status: int = 200
    statuses: list[int] = field(default_factory=list)
    hang: bool = False
    got: list[Received] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def start(self) -> "Receiver":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def take(self, headers: dict[str, str], body: bytes) -> int:
        verified = self._verify(headers, body)
        with self._lock:
            status = self.statuses.pop(0) if self.statuses else self.status
            self.got.append(
                Received(headers.get("webhook-id", ""), headers, body, verified, status)
            )
        self.arrived.set()
        return status

    def _verify(self, headers: dict[str, str], body: bytes) -> bool:
        if not self.secret:
            return False
        try:
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            return False
        return True

    def delivered(self) -> list[Received]:
        """Requests answered 2xx, in arrival order."""
        with self._lock:
            return [r for r in self.got if 200 <= r.status < 300]

    def of_type(self, kind: str) -> list[Received]:
        return [r for r in self.delivered() if r.payload["type"] == kind]

    def wait(self, condition: Callable[["Receiver"], bool], what: str, timeout: float = 20) -> None:
        wait_for(lambda: condition(self), timeout, what)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            if receiver.hang:
                receiver.arrived.set()
                receiver.released.wait(60)
            status = receiver.take(headers, body)
            answer = b"ok" if status < 300 else b"not now"
            self.send_response(status)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
