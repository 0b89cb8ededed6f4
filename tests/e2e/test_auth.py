"""API keys: only key holders may send, each sees only its own emails."""

import subprocess
from pathlib import Path

import pytest

from tests.support.http import Reply, post_email, request
from tests.support.processes import wait_for
from tests.support.server import POSTROOM, Server, server

EMAIL = {"from": "shop@example.com", "to": ["ann@example.org"], "subject": "Hi", "body": "Hello"}


def keys(api: Server, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, **api.env}
    return subprocess.run(
        [POSTROOM, "keys", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=api.workdir,
        timeout=60,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def secured(workdir: Path) -> Server:
    api = server(workdir, {"POSTROOM_INSECURE_NO_AUTH": "false"}, command="api").start()
    yield api  # type: ignore[misc]
    api.stop()


def refused(reply: Reply) -> bool:
    return (
        reply.status == 401
        and reply.json()["status"] == "UNAUTHORIZED"
        and "bearer" in reply.headers["www-authenticate"].lower()
    )


def test_serve_creates_and_prints_a_first_key_once(workdir: Path) -> None:
    """On a fresh data directory `postroom serve` creates a key and prints it; never again."""
    first = server(workdir, {"POSTROOM_INSECURE_NO_AUTH": "false"}).start()
    first.stop()
    token = [line.strip() for line in first.output().splitlines() if line.strip().startswith("pr_")]
    assert len(token) == 1
    second = server(workdir, {"POSTROOM_INSECURE_NO_AUTH": "false"}).start()
    try:
        assert post_email(second.url, EMAIL, **bearer(token[0])).status == 202
        assert refused(post_email(second.url, EMAIL))
    finally:
        second.stop()
    assert "pr_" not in second.output()


def test_only_key_holders_may_send(secured: Server) -> None:
    """No key, a malformed header, a wrong key and a revoked key all get the same 401."""
    token = keys(secured, "create", "--name", "shop").stdout.strip()
    assert token.startswith("pr_")
    assert post_email(secured.url, EMAIL, **bearer(token)).status == 202
    answers = [
        post_email(secured.url, EMAIL),
        post_email(secured.url, EMAIL, Authorization=token),
        post_email(secured.url, EMAIL, **bearer(token + "x")),
    ]
    assert all(refused(reply) for reply in answers)
    assert len({reply.body for reply in answers}) == 1
    prefix = token[:13]
    assert keys(secured, "revoke", prefix).returncode == 0
    wait_for(
        lambda: post_email(secured.url, EMAIL, **bearer(token)).status == 401, 10, "the revocation"
    )
    assert post_email(secured.url, EMAIL, **bearer(token)).body == answers[0].body


def test_each_key_sees_only_its_own_emails(secured: Server) -> None:
    """Another key's email is 404 for status and cancel, as if it did not exist."""
    mine = keys(secured, "create", "--name", "mine").stdout.strip()
    theirs = keys(secured, "create", "--name", "theirs").stdout.strip()
    email_id = post_email(secured.url, EMAIL, **bearer(mine)).json()["id"]
    url = f"{secured.url}/api/v1/email/{email_id}"
    assert request("GET", url, headers=bearer(mine)).status == 200
    assert request("GET", url, headers=bearer(theirs)).status == 404
    assert request("DELETE", url, headers=bearer(theirs)).status == 404
    assert refused(request("GET", url))
    assert request("DELETE", url, headers=bearer(mine)).status == 200


def test_idempotency_keys_are_per_api_key(secured: Server) -> None:
    """Two clients using the same Idempotency-Key get two emails."""
    one = keys(secured, "create", "--name", "one").stdout.strip()
    two = keys(secured, "create", "--name", "two").stdout.strip()
    first = post_email(secured.url, EMAIL, **bearer(one), **{"Idempotency-Key": "same"})
    second = post_email(secured.url, EMAIL, **bearer(two), **{"Idempotency-Key": "same"})
    assert (first.status, second.status) == (202, 202)
    assert first.json()["id"] != second.json()["id"]


def test_open_routes_and_metrics(secured: Server) -> None:
    """Health, readiness and the docs need no key; metrics do."""
    for path in ("/healthz", "/readyz", "/docs", "/openapi.json"):
        assert request("GET", secured.url + path).status == 200
    assert refused(request("GET", f"{secured.url}/metrics"))
    token = keys(secured, "create", "--name", "prometheus").stdout.strip()
    # A new key is seen on the next miss at most 0.25 s after the last look (services/auth.py),
    # and the refusal above was a look.
    wait_for(
        lambda: request("GET", f"{secured.url}/metrics", headers=bearer(token)).status == 200,
        timeout=5,
        what="the new key to be accepted",
    )


def test_key_list_never_shows_keys(secured: Server) -> None:
    """`postroom keys list` shows names and prefixes, never a whole key."""
    token = keys(secured, "create", "--name", "billing").stdout.strip()
    assert post_email(secured.url, EMAIL, **bearer(token)).status == 202
    listing = keys(secured, "list").stdout
    assert "billing" in listing
    assert token[:13] in listing
    assert token not in listing


def test_running_without_auth_says_so(workdir: Path) -> None:
    """--insecure-no-auth serves without keys and logs a warning at start-up."""
    api = server(
        workdir, {"POSTROOM_INSECURE_NO_AUTH": "false"}, command="api", args=["--insecure-no-auth"]
    )
    api.start()
    try:
        assert post_email(api.url, EMAIL).status == 202
    finally:
        api.stop()
    assert "auth.disabled" in api.output()


def test_daily_quota_answers_429_with_rate_limit_headers(workdir: Path) -> None:
    """Past its daily quota a key gets 429 with Retry-After and RateLimit-* headers."""
    api = server(
        workdir, {"POSTROOM_INSECURE_NO_AUTH": "false", "POSTROOM_DAILY_QUOTA": "2"}, command="api"
    ).start()
    try:
        token = keys(api, "create", "--name", "small").stdout.strip()
        other = keys(api, "create", "--name", "other").stdout.strip()
        assert [post_email(api.url, EMAIL, **bearer(token)).status for _ in range(2)] == [202, 202]
        refused = post_email(api.url, EMAIL, **bearer(token))
        assert refused.status == 429
        assert refused.json()["status"] == "TOO_MANY_REQUESTS"
        assert int(refused.headers["retry-after"]) > 0
        assert refused.headers["ratelimit-limit"] == "2"
        assert refused.headers["ratelimit-remaining"] == "0"
        assert post_email(api.url, EMAIL, **bearer(other)).status == 202  # per key
    finally:
        api.stop()
