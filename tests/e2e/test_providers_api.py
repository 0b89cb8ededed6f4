"""/api/v1/providers against a running `postroom serve` (docs/api.md): the list, a pause that
sends the next email through the provider after it, a resume, and what an unknown name or a
key without `admin` gets."""

import collections
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_api import conforms
from tests.support.http import Reply, post_email, request
from tests.support.keys import create_key
from tests.support.processes import FakeProvider, wait_for
from tests.support.server import Server, server

EMAIL = {"from": "shop@example.com", "to": ["ann@example.org"], "subject": "Hi", "text": "Hello"}


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeProvider]:
    running = FakeProvider(tmp_path_factory.mktemp("fake"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory, fake: FakeProvider) -> Iterator[Server]:
    env = {"POSTROOM_INSECURE_NO_AUTH": "false", "POSTROOM_PROVIDERS": fake.mailgun_then_sendgrid()}
    running = server(tmp_path_factory.mktemp("providers"), env).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def admin(serve: Server) -> str:
    return create_key(serve, "operator", "admin")


def call(serve: Server, method: str, path: str, key: str) -> Reply:
    return request(method, f"{serve.url}{path}", headers={"Authorization": f"Bearer {key}"})


def received(fake: FakeProvider) -> collections.Counter[str]:
    return collections.Counter(item["provider"] for item in fake.accepted()["accepted"])


def send_one(serve: Server, key: str) -> None:
    email_id = post_email(serve.url, EMAIL, Authorization=f"Bearer {key}").json()["id"]

    def sent() -> bool:
        found = call(serve, "GET", f"/api/v1/email/{email_id}", key)
        return bool(found.json()["status"] == "sent")

    wait_for(sent, 30, "the email to be sent")


def listed(serve: Server, key: str) -> dict[str, Any]:
    found = call(serve, "GET", "/api/v1/providers", key)
    assert found.status == 200, found.body
    conforms(serve, "/api/v1/providers", "get", found)
    return {row["name"]: row for row in found.json()["data"]}


def test_the_providers_are_listed_with_their_circuit_calls_and_latency(
    serve: Server, admin: str
) -> None:
    """Both configured providers, closed, not paused; after a send, Mailgun's call of the
    last hour with its share accepted and its latency."""
    send_one(serve, admin)
    rows = listed(serve, admin)
    assert list(rows) == ["mailgun", "sendgrid"]
    mailgun = rows["mailgun"]
    assert (mailgun["configured"], mailgun["circuit"], mailgun["paused"]) == (True, "closed", False)
    assert mailgun["attempts"] >= 1
    assert mailgun["successRate"] == 1.0
    assert mailgun["p50Ms"] >= 1
    assert mailgun["p99Ms"] >= mailgun["p50Ms"]


def test_a_provider_paused_through_the_api_is_sent_nothing_until_resumed(
    serve: Server, admin: str, fake: FakeProvider
) -> None:
    """Pause Mailgun: listed as paused, and the next email goes through SendGrid; a second
    pause changes nothing; resume: the next goes through Mailgun again."""
    paused = call(serve, "POST", "/api/v1/providers/mailgun/pause", admin)
    assert (paused.status, paused.json()) == (200, {"provider": "mailgun", "paused": True})
    conforms(serve, "/api/v1/providers/{name}/pause", "post", paused)
    again = call(serve, "POST", "/api/v1/providers/mailgun/pause", admin)
    assert again.json() == {"provider": "mailgun", "paused": False}
    try:
        assert listed(serve, admin)["mailgun"]["pausedAt"] is not None
        wait_for(lambda: _worker_sees(serve, admin, paused=True), 5, "the worker to see it")
        before = received(fake)
        send_one(serve, admin)
        assert received(fake) == before + collections.Counter({"sendgrid": 1})
    finally:
        resumed = call(serve, "POST", "/api/v1/providers/mailgun/resume", admin)
    assert (resumed.status, resumed.json()) == (200, {"provider": "mailgun", "resumed": True})
    conforms(serve, "/api/v1/providers/{name}/resume", "post", resumed)
    assert listed(serve, admin)["mailgun"]["paused"] is False
    wait_for(lambda: _worker_sees(serve, admin, paused=False), 5, "the worker to see it")
    before = received(fake)
    send_one(serve, admin)
    assert received(fake) == before + collections.Counter({"mailgun": 1})


def _worker_sees(serve: Server, key: str, paused: bool) -> bool:
    """The worker's circuit gauge says whether Mailgun is paused."""
    gauge = 'postroom_provider_circuit{provider="mailgun",state="paused"} 1.0'
    return (gauge in call(serve, "GET", "/metrics", key).body.decode()) is paused


def test_an_unknown_provider_is_404_in_the_error_envelope(serve: Server, admin: str) -> None:
    """Neither a pause nor a resume of a provider not configured (nor paused) is done."""
    for action in ("pause", "resume"):
        path = f"/api/v1/providers/postmark/{action}"
        refused = call(serve, "POST", path, admin)
        assert refused.status == 404, refused.body
        answer = refused.json()
        assert answer["status"] == "NOT_FOUND"
        assert "postmark" in answer["message"]["long"]
        assert answer["errors"] == {"name": "not a provider"}
        conforms(serve, f"/api/v1/providers/{{name}}/{action}", "post", refused)
    assert "postmark" not in listed(serve, admin)


def test_only_an_admin_key_lists_or_pauses(serve: Server) -> None:
    """A key with every scope but `admin` is refused (403) and pauses nothing; no key: 401."""
    others = create_key(serve, "not-an-operator")
    assert call(serve, "GET", "/api/v1/providers", others).status == 403
    assert call(serve, "POST", "/api/v1/providers/mailgun/pause", others).status == 403
    assert request("GET", f"{serve.url}/api/v1/providers").status == 401
    admin = create_key(serve, "checker", "admin")
    assert listed(serve, admin)["mailgun"]["paused"] is False
