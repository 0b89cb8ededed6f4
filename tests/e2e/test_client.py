"""postroom.client against a running server with API keys: what it sends, every error class
from a real answer, retries that store an email once, the suppression list, sync and async."""

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from postroom.client import (
    Accepted,
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    ConnectionFailedError,
    ForbiddenError,
    InvalidEmailError,
    NotFoundError,
    PostroomError,
    RateLimitedError,
    UnavailableError,
)
from tests.support.http import request
from tests.support.keys import create_key
from tests.support.server import Server, free_port, server

pytestmark = pytest.mark.slow

EMAIL = {
    "from": "Shop <shop@example.com>",
    "to": ["ann@example.org"],
    "subject": "Hi",
    "body": "Hello",
}
AUTH = {"POSTROOM_INSECURE_NO_AUTH": "false"}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """`postroom api` with keys (no worker: an email stays queued) and a key made before it
    started, so the first request already finds it."""
    api = server(tmp_path_factory.mktemp("client"), AUTH, command="api")
    key = create_key(api, "client")
    api.start()
    yield api, key
    api.stop()


@pytest.fixture
def client(secured: tuple[Server, str]) -> Client:
    api, key = secured
    return Client(api.url, key, timeout=10)


class Flaky:
    """An HTTP proxy to the server that loses the answers to the first requests: each fault is
    `503` (the server's answer replaced by a 503 with `Retry-After: 0`) or `drop` (the
    connection closed with no answer). The request itself reached the server either way."""

    def __init__(self, target: str, faults: list[str]) -> None:
        self.target = target
        self.faults = list(faults)
        self.keys: list[str | None] = []  # Idempotency-Key of every request, in order
        self.lost: list[Any] = []  # the server's answers the client never saw
        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Flaky":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.relay(self)

            do_POST = do_DELETE = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def relay(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
        self.keys.append(handler.headers.get("Idempotency-Key"))
        reply = request(handler.command, self.target + handler.path, headers=headers, raw=body)
        fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            self.lost.append(reply.json())
        if fault == "drop":
            handler.close_connection = True
            return
        if fault == "503":
            envelope = {"status": "SERVICE_UNAVAILABLE", "message": {"short": "Busy", "long": ""}}
            status, out, extra = 503, json.dumps(envelope).encode(), {"Retry-After": "0"}
        else:
            status, out, extra = reply.status, reply.body, {}
        handler.send_response(status)
        for name, value in {"Content-Type": "application/json", **extra}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(out)))
        handler.end_headers()
        handler.wfile.write(out)


def test_send_get_cancel(client: Client) -> None:
    accepted = client.send(EMAIL)
    assert isinstance(accepted, Accepted)
    assert (accepted.status, accepted.repeated) == ("queued", False)
    assert accepted.status_url == f"/api/v1/email/{accepted.id}"
    assert accepted.idempotency_key
    assert client.get(accepted.id)["status"] == "queued"
    assert client.cancel(accepted.id) == {"id": accepted.id, "status": "cancelled"}
    assert client.get(accepted.id)["status"] == "cancelled"


def test_warnings_and_a_given_idempotency_key(client: Client) -> None:
    first = client.send({**EMAIL, "htlm": "<p>Hi</p>"}, idempotency_key="welcome-ann")
    assert first.warnings
    assert "html" in first.warnings[0]
    again = client.send({**EMAIL, "htlm": "<p>Hi</p>"}, idempotency_key="welcome-ann")
    assert (again.id, again.repeated, again.idempotency_key) == (first.id, True, "welcome-ann")


def test_each_error_status_is_its_own_class(secured: tuple[Server, str], client: Client) -> None:
    """400, 401, 404 and 409 from the server's own answers, with the envelope's fields."""
    api, _ = secured
    with pytest.raises(InvalidEmailError) as invalid:
        client.send({**EMAIL, "to": ["not an address"]})
    assert (invalid.value.status, invalid.value.code) == (400, "BAD_REQUEST")
    assert invalid.value.title == "Invalid email"
    assert "to[0]" in invalid.value.errors
    with pytest.raises(AuthenticationError) as unauthorised:
        Client(api.url, "pr_wrong").send(EMAIL)
    assert unauthorised.value.status == 401
    assert "Bearer" in unauthorised.value.message
    with pytest.raises(NotFoundError):
        client.get("019a2237-0000-7000-8000-000000000000")
    client.send(EMAIL, idempotency_key="one-email")
    with pytest.raises(ConflictError) as conflict:
        client.send({**EMAIL, "subject": "Another"}, idempotency_key="one-email")
    assert conflict.value.status == 409
    for error in (invalid, unauthorised, conflict):
        assert isinstance(error.value, PostroomError)


def test_a_key_without_the_scope_is_forbidden(secured: tuple[Server, str]) -> None:
    api, _ = secured
    sender = Client(api.url, create_key(api, "sender-only", "send"), timeout=10)
    with pytest.raises(ForbiddenError) as forbidden:
        sender.webhooks.list()
    assert forbidden.value.status == 403
    assert "webhooks" in forbidden.value.errors["scope"]


def test_over_the_daily_quota_is_rate_limited(tmp_path: Path) -> None:
    """A 429 whose Retry-After is hours away is raised at once, saying when to come back."""
    api = server(tmp_path, {**AUTH, "POSTROOM_DAILY_QUOTA": "1"}, command="api")
    key = create_key(api, "quota")
    api.start()
    try:
        client = Client(api.url, key)
        client.send(EMAIL)
        with pytest.raises(RateLimitedError) as limited:
            client.send(EMAIL)
        assert limited.value.status == 429
        assert limited.value.retry_after is not None
        assert limited.value.retry_after > 0
    finally:
        api.stop()


def test_a_rate_limited_send_waits_as_told_and_goes_through(tmp_path: Path) -> None:
    """Over one email a second, the 429's Retry-After (a second) is waited for, then the same
    send is accepted."""
    api = server(tmp_path, {**AUTH, "POSTROOM_RATE_LIMIT": "1"}, command="api")
    key = create_key(api, "rate")
    api.start()
    try:
        client = Client(api.url, key, retries=3)
        sent = [client.send(EMAIL) for _ in range(3)]
        assert len({accepted.id for accepted in sent}) == 3
        with pytest.raises(RateLimitedError) as limited:
            Client(api.url, key, retries=0).send(EMAIL)
        assert limited.value.retry_after == 1
    finally:
        api.stop()


def test_unreachable_storage_is_unavailable(tmp_path: Path) -> None:
    """A real 503 (storage gone) is retried as asked, then raised with its Retry-After."""
    (tmp_path / "data").mkdir()
    api = server(
        tmp_path, {**AUTH, "POSTROOM_DATABASE_URL": f"sqlite:///{tmp_path}/data/postroom.db"}, "api"
    )
    key = create_key(api, "gone")
    api.start()
    # Start-up checked the file; the API opens it at its first request, when it is gone.
    shutil.rmtree(tmp_path / "data")
    try:
        with pytest.raises(UnavailableError) as unavailable:
            Client(api.url, key, retries=0).send(EMAIL)
        assert unavailable.value.status == 503
        assert unavailable.value.retry_after is not None
    finally:
        api.stop()


@pytest.mark.parametrize("fault", ["503", "drop"])
def test_a_send_whose_answer_was_lost_is_stored_once(
    secured: tuple[Server, str], fault: str
) -> None:
    """The first answer is lost (a 503 instead, or no answer at all): the client sends again
    with the same Idempotency-Key and gets the email the first attempt stored."""
    api, key = secured
    with Flaky(api.url, [fault]) as flaky:
        accepted = Client(flaky.url, key, retries=1).send(EMAIL)
    assert len(flaky.keys) == 2
    assert flaky.keys[0] == flaky.keys[1] == accepted.idempotency_key
    assert flaky.lost[0]["id"] == accepted.id
    assert accepted.repeated


def test_retries_end(secured: tuple[Server, str]) -> None:
    """With every answer lost, the client stops after its retries and raises the last failure."""
    api, key = secured
    with Flaky(api.url, ["503", "503", "503"]) as flaky, pytest.raises(UnavailableError):
        Client(flaky.url, key, retries=2).send(EMAIL)
    assert len(flaky.keys) == 3
    assert len(set(flaky.keys)) == 1
    with Flaky(api.url, ["drop"]) as flaky, pytest.raises(ConnectionFailedError) as dropped:
        Client(flaky.url, key, retries=0).get("019a2237-0000-7000-8000-000000000000")
    assert dropped.value.status is None


def test_two_sends_are_two_emails(client: Client) -> None:
    """A key is made per call, not per client: sending the same email twice is two emails."""
    first, second = client.send(EMAIL), client.send(EMAIL)
    assert first.idempotency_key != second.idempotency_key
    assert first.id != second.id


def test_suppressions_round_trip(client: Client) -> None:
    addresses = [f"sync{n}@example.org" for n in range(5)]
    assert client.suppressions.add(addresses[:4], reason="manual") == 4
    assert client.suppressions.add("Sync4@Example.org", scope="newsletter") == 1
    (entry,) = client.suppressions.get("sync4@example.org")
    assert (entry["address"], entry["scope"], entry["reason"]) == (
        addresses[4],
        "newsletter",
        "manual",
    )
    listed = [e["address"] for e in client.suppressions.list(limit=2) if e["address"] in addresses]
    assert sorted(listed) == addresses
    assert client.suppressions.remove("sync4@example.org", scope="newsletter") == 1
    assert client.suppressions.remove("sync0@example.org") == 1
    with pytest.raises(NotFoundError):
        client.suppressions.get("sync0@example.org")
    with pytest.raises(NotFoundError):
        client.suppressions.remove("sync0@example.org")
    with pytest.raises(InvalidEmailError) as invalid:
        client.suppressions.add(["ok@example.org", "nope"])
    assert "[1].address" in invalid.value.errors


def test_an_address_with_plus_and_at_is_one_path_segment(client: Client) -> None:
    assert client.suppressions.add("ann+x@example.org") == 1
    assert client.suppressions.get("ann+x@example.org")[0]["address"] == "ann+x@example.org"
    assert client.suppressions.remove("ann+x@example.org") == 1


async def test_async_client(secured: tuple[Server, str]) -> None:
    api, key = secured
    async with AsyncClient(api.url, key, timeout=10) as client:
        accepted = await client.send(EMAIL)
        assert (await client.get(accepted.id))["status"] == "queued"
        assert (await client.cancel(accepted.id))["status"] == "cancelled"
        with pytest.raises(InvalidEmailError):
            await client.send({**EMAIL, "to": []})
        with pytest.raises(NotFoundError):
            await client.get("019a2237-0000-7000-8000-000000000000")
        with pytest.raises(ConflictError):
            await client.send(
                {**EMAIL, "subject": "Other"}, idempotency_key=accepted.idempotency_key
            )
    async with AsyncClient(api.url, "pr_wrong") as wrong:
        with pytest.raises(AuthenticationError):
            await wrong.get(accepted.id)


async def test_async_suppressions_round_trip(secured: tuple[Server, str]) -> None:
    api, key = secured
    addresses = [f"async{n}@example.org" for n in range(3)]
    async with AsyncClient(api.url, key) as client:
        assert await client.suppressions.add(addresses, reason="complaint") == 3
        listed = [e["address"] async for e in client.suppressions.list(reason="complaint", limit=1)]
        assert sorted(a for a in listed if a in addresses) == addresses
        assert (await client.suppressions.get("async1@example.org"))[0]["reason"] == "complaint"
        assert await client.suppressions.remove("async1@example.org") == 1
        with pytest.raises(NotFoundError):
            await client.suppressions.get("async1@example.org")


@pytest.mark.parametrize("fault", ["503", "drop"])
async def test_async_send_whose_answer_was_lost_is_stored_once(
    secured: tuple[Server, str], fault: str
) -> None:
    api, key = secured
    with Flaky(api.url, [fault]) as flaky:
        async with AsyncClient(flaky.url, key, retries=1) as client:
            accepted = await client.send(EMAIL)
    assert flaky.keys[0] == flaky.keys[1] == accepted.idempotency_key
    assert flaky.lost[0]["id"] == accepted.id
    assert accepted.repeated


def test_an_unreachable_server_is_a_connection_failure() -> None:
    with pytest.raises(ConnectionFailedError):
        Client(f"http://127.0.0.1:{free_port()}", "pr_x", retries=0).get("x")
    with pytest.raises(ValueError, match="base_url"):
        Client("ftp://example.com", "pr_x")


def _python_block(document: str, after: str) -> str:
    """The first ```python block of `document` after the text `after`."""
    text = (Path(__file__).parents[2] / document).read_text()
    return text.split(after, 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize(
    ("document", "after"), [("README.md", "Or from Python"), ("docs/client.md", "## Sending")]
)
def test_the_documented_example_runs(
    secured: tuple[Server, str], document: str, after: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example as printed, pointed at the test server with its key."""
    api, key = secured
    code = _python_block(document, after)
    assert '"pr_..."' in code
    code = code.replace('"pr_..."', repr(key)).replace("http://localhost:8080", api.url)
    exec(compile(code.replace("http://127.0.0.1:8080", api.url), document, "exec"), {})  # noqa: S102
    assert "queued" in capsys.readouterr().out
