"""API key scopes and expiry as a client meets them: every route of the OpenAPI document, walked
with a key of each scope, answers 401, 403 or its own answer exactly as its `security` says."""

import smtplib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from postroom.domain.keys import SCOPES
from tests.support.http import Reply, request
from tests.support.processes import wait_for
from tests.support.server import Server, free_port, run_cli, server
from tests.support.smtp import Running

# What the document must say for the routes there are today; a route added later is walked
# with the scope its document names, and must name one (or be open).
EXPECTED = {
    "sendEmail": "send",
    "sendEmailBatch": "send",
    "cancelEmail": "send",
    "getEmail": "read",
    "listEmails": "read",
    "listEvents": "read",
    "getMetrics": "read",
    "listSuppressions": "suppressions",
    "addSuppressions": "suppressions",
    "getSuppression": "suppressions",
    "removeSuppression": "suppressions",
    "createWebhook": "webhooks",
    "listWebhooks": "webhooks",
    "getWebhook": "webhooks",
    "updateWebhook": "webhooks",
    "deleteWebhook": "webhooks",
    "testWebhook": "webhooks",
    "rotateWebhookSecret": "webhooks",
    "listWebhookAttempts": "webhooks",
    "replayWebhooks": "webhooks",
    "createTemplate": "templates",
    "getTemplate": "templates",
    "updateTemplate": "templates",
    "deleteTemplate": "templates",
    "publishTemplate": "templates",
    "renderTemplate": "templates",
    "listProviders": "admin",
    "pauseProvider": "admin",
    "resumeProvider": "admin",
}
# A key made without --scope, like every key made before scopes, sends and reads.
DEFAULT_ALLOWS = {("default", "send"), ("default", "read")}
# Seconds: long enough for `keys create` to finish and the key to be seen working on a loaded
# machine, short enough to wait for.
EXPIRES_IN = 12.0


def keys(api: Server, *args: str) -> Any:
    return run_cli("keys", *args, env=api.env, cwd=api.workdir)


def make_key(api: Server, name: str, *args: str) -> str:
    made = keys(api, "create", "--name", name, *args)
    assert made.returncode == 0, made.stderr
    return str(made.stdout.strip())


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = server(
        tmp_path_factory.mktemp("scopes"), {"POSTROOM_INSECURE_NO_AUTH": "false"}, command="api"
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tokens(secured: Server) -> dict[str, str]:
    """One key per scope (named after it), one made without --scope ("default")."""
    made = {scope: make_key(secured, scope, "--scope", scope) for scope in SCOPES}
    made["default"] = make_key(secured, "default")
    return made


@pytest.fixture(scope="module")
def operations(secured: Server) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every operation the running API documents."""
    document = request("GET", f"{secured.url}/openapi.json").json()
    found = [
        (method.upper(), path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
    ]
    assert len(found) >= 30
    return found


def needed_scope(op: dict[str, Any]) -> str | None:
    """The scope the operation's security names; None for an open one."""
    security = op.get("security")
    if security == []:
        return None
    assert security, f"{op['operationId']} names no scope"
    (requirement,) = security
    (scopes,) = requirement.values()
    (scope,) = scopes
    assert scope in SCOPES, op["operationId"]
    assert "403" in op["responses"], f"{op['operationId']} documents no 403"
    return str(scope)


def call(api: Server, method: str, path: str, op: dict[str, Any], token: str | None) -> Reply:
    """The operation with placeholder path parameters and, when it takes one, a minimal body."""
    for parameter in op.get("parameters", []):
        if parameter.get("in") == "path":
            examples = parameter.get("schema", {}).get("examples") or ["placeholder-1"]
            path = path.replace("{" + parameter["name"] + "}", str(examples[0]))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {} if "requestBody" in op else None
    return request(method, api.url + path, body, headers)


def refused_401(reply: Reply) -> bool:
    return reply.status == 401 and reply.json()["status"] == "UNAUTHORIZED"


def test_the_document_names_the_expected_scope_of_each_route(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> None:
    """Each secured operation names exactly one known scope and a 403; today's as listed."""
    named = {op["operationId"]: needed_scope(op) for _, _, op in operations}
    assert {name: scope for name, scope in named.items() if name in EXPECTED} == EXPECTED


def test_every_route_answers_each_key_as_its_scope_says(
    secured: Server, tokens: dict[str, str], operations: list[tuple[str, str, dict[str, Any]]]
) -> None:
    """Without a key: 401 (open routes answer). A key lacking the scope: 403 in the error
    envelope naming the scope, never the key. A key with it, or admin: neither 401 nor 403."""
    answered: list[int] = []
    for method, path, op in operations:
        needed = needed_scope(op)
        where = f"{method} {path}"
        anonymous = call(secured, method, path, op, None)
        if needed is None:
            assert anonymous.status not in (401, 403), where
            continue
        assert refused_401(anonymous), where
        for name, token in tokens.items():
            reply = call(secured, method, path, op, token)
            answered.append(reply.status)
            allowed = name in (needed, "admin") or (name, needed) in DEFAULT_ALLOWS
            if allowed:
                assert reply.status not in (401, 403), (where, name, reply.status, reply.body)
                continue
            assert reply.status == 403, (where, name, reply.status)
            answer = reply.json()
            assert answer["status"] == "FORBIDDEN"
            assert answer["message"]["short"] == "Forbidden"
            assert f"`{needed}`" in answer["message"]["long"]
            assert "scope" in answer["errors"]
            assert token[:13] not in reply.body.decode()  # nor, so, the whole key
    assert answered.count(403) > 100
    assert {200, 400, 404} <= set(answered)


def test_an_expired_key_is_refused_like_a_revoked_one(
    secured: Server, operations: list[tuple[str, str, dict[str, Any]]]
) -> None:
    """An admin key made with --expires-at works until then and is 401 on every secured route
    from then on, at once (the server's two-second key cache does not stretch it)."""
    ends = time.time() + EXPIRES_IN
    at = datetime.fromtimestamp(ends, UTC).isoformat(timespec="milliseconds")
    token = make_key(secured, "brief", "--scope", "admin", "--expires-at", at)
    status = f"{secured.url}/metrics"
    wait_for(
        lambda: request("GET", status, headers={"Authorization": f"Bearer {token}"}).status == 200,
        timeout=2,
        what="the new key to be accepted",
    )
    assert time.time() < ends, "the key expired before it could be tried; raise EXPIRES_IN"
    time.sleep(max(0.0, ends - time.time()) + 0.05)
    for method, path, op in operations:
        if needed_scope(op) is not None:
            assert refused_401(call(secured, method, path, op, token)), f"{method} {path}"
    listing = keys(secured, "list").stdout
    assert datetime.fromtimestamp(ends, UTC).strftime("%Y-%m-%d %H:%M") in listing


def test_keys_create_takes_scopes_and_refuses_unknown_ones(secured: Server) -> None:
    """`--scope` is repeatable and comma-separated; `keys list` shows each key's scopes. An
    unknown scope or a bad expiry exits 2 naming the flag, and creates nothing."""
    make_key(secured, "hooks-and-lists", "--scope", "webhooks,suppressions", "--scope", "read")
    rows = {line.split()[1]: line for line in keys(secured, "list").stdout.splitlines()[1:]}
    assert "read,webhooks,suppressions" in rows["hooks-and-lists"]
    for bad, flag in [
        (["--scope", "send,sned"], "--scope"),
        (["--scope", ","], "--scope"),
        (["--expires-in", "0"], "--expires-in"),
        (["--expires-at", "2020-01-01T00:00:00Z"], "--expires-at"),
        (["--expires-at", "tomorrow"], "--expires-at"),
    ]:
        refused = keys(secured, "create", "--name", "refused", *bad)
        assert refused.returncode == 2, bad
        assert flag in refused.stderr, bad
        assert len(refused.stderr.strip().splitlines()) == 1, bad
    assert "sned" in keys(secured, "create", "--name", "x", "--scope", "sned").stderr
    assert "refused" not in keys(secured, "list").stdout


def test_the_first_key_serve_prints_is_an_admin_key(tmp_path: Path) -> None:
    """On a fresh data directory `postroom serve` makes the operator's key with `admin`."""
    first = server(tmp_path, {"POSTROOM_INSECURE_NO_AUTH": "false"}).start()
    first.stop()
    listing = keys(first, "list").stdout.splitlines()[1:]
    assert len(listing) == 1
    assert " admin " in listing[0]


@pytest.mark.slow
def test_smtp_auth_takes_only_keys_that_may_send(tmp_path: Path) -> None:
    """SMTP AUTH only ever sends: a `send` or `admin` key logs in (235), a `read` key is
    refused like a wrong one (535 5.7.8)."""
    smtp_port = free_port()
    serve = server(
        tmp_path, {"POSTROOM_INSECURE_NO_AUTH": "false", "POSTROOM_SMTP_PORT": str(smtp_port)}
    )
    made = {scope: make_key(serve, scope, "--scope", scope) for scope in ("send", "admin", "read")}
    serve.start()
    try:
        for scope in ("send", "admin"):
            with Running(serve, smtp_port, made[scope]).connect(login=False) as client:
                assert client.login("any", made[scope])[0] == 235, scope
        client = Running(serve, smtp_port, made["read"]).connect(login=False)
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("any", made["read"])
        client.close()
        assert refused.value.smtp_code == 535
        assert b"5.7.8" in refused.value.smtp_error
    finally:
        serve.stop()
