"""GET /api/v1/email, the list of a tenant's emails, against a real `postroom api` (no worker, so
states stay put) with API keys on. Each test works in tenants of its own, made as an operator
makes them (`postroom keys create --tenant`)."""

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.test_api import conforms
from tests.e2e.test_suppressions_api import call, tenant_key
from tests.support.server import Server, server

LIST = "/api/v1/email"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = server(
        tmp_path_factory.mktemp("email-list"), {"POSTROOM_INSECURE_NO_AUTH": "false"}, "api"
    ).start()
    yield running
    running.stop()


def send(api: Server, token: str, **fields: Any) -> str:
    email = {"from": "Shop <shop@example.com>", "to": ["ann@example.org"], "subject": "Hi"}
    reply = call(api, "POST", LIST, {**email, **fields}, token=token)
    assert reply.status == 202, reply.body
    return str(reply.json()["id"])


def listed(api: Server, token: str, query: str = "", limit: int = 2) -> list[dict[str, Any]]:
    """Every email the query finds, page by page, each page checked against the document."""
    found: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(100):
        reply = call(api, "GET", f"{LIST}?limit={limit}&cursor={cursor}{query}", token=token)
        assert reply.status == 200, reply.body
        conforms(api, LIST, "get", reply)
        page = reply.json()
        found += page["data"]
        if page["nextCursor"] is None:
            return found
        cursor = page["nextCursor"]
    raise AssertionError("the pages never ended")


def ids(api: Server, token: str, query: str = "") -> list[str]:
    return [e["id"] for e in listed(api, token, query)]


def test_newest_first_in_pages_without_repeats(api: Server) -> None:
    """Five emails come back newest first over three pages, each once, with their state,
    times and provider and nothing of their content: not even their tags."""
    token = tenant_key(api)
    sent = [send(api, token, tags=[f"n{n}"]) for n in range(5)]
    items = listed(api, token)
    assert [e["id"] for e in items] == sent[::-1]
    first = items[-1]
    assert set(first) == {"id", "status", "createdAt", "sendAt", "provider"}
    assert (first["status"], first["provider"]) == ("queued", None)
    assert [e["id"] for e in listed(api, token, limit=500)] == sent[::-1]


def test_filters_by_state_tag_time_and_recipient(api: Server) -> None:
    """state, tag, after/before and to= (to, cc or bcc; in any letter case) narrow the list,
    together too."""
    token = tenant_key(api)
    plain = send(api, token, tags=["invoice"], cc=["Acc <Accounts@Example.org>"])
    later = time.time() + 3600
    scheduled = send(api, token, sendAt=later, to=["bob@example.org"], bcc=["audit@example.org"])
    cancelled = send(api, token, sendAt=later, tags=["invoice", "eu"])
    assert call(api, "DELETE", f"{LIST}/{cancelled}", token=token).status == 200
    assert ids(api, token, "&state=scheduled") == [scheduled]
    assert ids(api, token, "&state=cancelled") == [cancelled]
    assert ids(api, token, "&tag=invoice") == [cancelled, plain]
    assert ids(api, token, "&tag=invoice&state=queued") == [plain]
    assert ids(api, token, "&to=ann@example.org") == [cancelled, plain]
    assert ids(api, token, f"&to={quote('ANN@Example.ORG')}") == [cancelled, plain]
    assert ids(api, token, "&to=accounts@example.org") == [plain]
    assert ids(api, token, "&to=audit%40example.org") == [scheduled]
    assert ids(api, token, "&to=nobody@example.org") == []
    future = datetime.fromtimestamp(time.time() + 60, UTC).isoformat().replace("+00:00", "Z")
    assert ids(api, token, f"&before={quote(future)}") == [cancelled, scheduled, plain]
    assert ids(api, token, f"&after={quote(future)}") == []
    assert ids(api, token, "&after=2020-01-01T00:00:00%2B01:00&tag=eu") == [cancelled]


def test_a_tenant_sees_its_own_emails_only(api: Server) -> None:
    """Two keys of two tenants each list their own emails, by address too; a second key of
    the same tenant lists the tenant's."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    first, second, other = tenant_key(api, tenant), tenant_key(api, tenant), tenant_key(api)
    mine = send(api, first, to=["shared@example.org"])
    theirs = send(api, other, to=["shared@example.org"])
    assert ids(api, first) == ids(api, second) == [mine]
    assert ids(api, other) == [theirs]
    assert ids(api, other, "&to=shared@example.org") == [theirs]
    assert ids(api, first, "&to=shared@example.org") == [mine]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=nope", "state"),
        ("state=SENT", "state"),
        ("tag=" + "x" * 129, "tag"),
        ("after=yesterday", "after"),
        ("before=2026-12-01T10:00:00", "before"),
        ("to=not-an-address", "to"),
        ("to=Ann%20%3Cann%40example.org%3E", "to"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=bm9wZQ", "cursor"),
        ("cursor=!!", "cursor"),
        ("status=sent", "status"),
    ],
)
def test_bad_parameters_are_400_naming_them(api: Server, query: str, field: str) -> None:
    """An unknown parameter or a value the list cannot take is a 400 naming it."""
    token = tenant_key(api)
    reply = call(api, "GET", f"{LIST}?{query}", token=token)
    assert reply.status == 400, reply.body
    assert list(reply.json()["errors"]) == [field]
    conforms(api, LIST, "get", reply)


def test_empty_values_count_as_absent(api: Server) -> None:
    """`?state=&tag=&to=` is the whole list, as the other lists take empty values."""
    token = tenant_key(api)
    only = send(api, token)
    assert ids(api, token, "&state=&tag=&to=&after=&before=") == [only]
