"""SIGKILL in the middle of a stream of POSTs loses no email that was answered 202."""

import http.client
import threading
from pathlib import Path

from tests.support.http import post_email, request
from tests.support.server import server

EMAIL = {
    "from": "shop@example.com",
    "to": ["ann@example.org"],
    "subject": "Receipt",
    "body": "Thanks",
}


def test_sigkill_loses_no_accepted_email(workdir: Path) -> None:
    """Every id that got a 202 before the kill is there after a restart."""
    api = server(workdir, command="api").start()
    accepted: list[str] = []
    enough = threading.Event()
    lock = threading.Lock()

    def client() -> None:
        while True:
            try:
                reply = post_email(api.url, EMAIL, timeout=10)
            except (OSError, http.client.HTTPException):
                return  # the server is gone, perhaps mid-answer
            if reply.status == 202:
                with lock:
                    accepted.append(reply.json()["id"])
                    if len(accepted) >= 400:
                        enough.set()

    clients = [threading.Thread(target=client) for _ in range(8)]
    for thread in clients:
        thread.start()
    assert enough.wait(120), "the server never reached 400 accepted emails"
    api.kill()  # requests are still in flight on every client thread
    for thread in clients:
        thread.join(30)

    restarted = server(workdir, command="api")
    restarted.port = api.port
    restarted.start()
    try:
        missing = [
            i for i in accepted if request("GET", f"{restarted.url}/api/v1/email/{i}").status != 200
        ]
        assert missing == [], f"{len(missing)} of {len(accepted)} accepted emails were lost"
    finally:
        restarted.stop()
