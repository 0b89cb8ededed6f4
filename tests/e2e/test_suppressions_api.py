"""The suppression list's HTTP API against a real `postroom serve` (worker, outbox, SQLite file).

Every test works in a tenant of its own, made the way an operator makes one (`postroom keys
create --tenant`), so the tests share one server and still start from an empty list.
"""

import http.client
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.test_api import conforms
from tests.e2e.test_logs_privacy import assert_no_canary
from tests.support.http import Reply, post_email, request
from tests.support.keys import ALL_BUT_ADMIN
from tests.support.processes import wait_for
from tests.support.schema_strategy import from_schema
from tests.support.server import Server, run_cli, server

LIST = "/api/v1/suppressions"
ONE = LIST + "/{address}"
SUPPRESSED_WARNING = (
    "recipients in `suppressed` are on the suppression list: they will not be sent to"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `postroom serve` with API keys on, a worker and an outbox, for the module."""
    env = {"POSTROOM_INSECURE_NO_AUTH": "false"}
    running = server(tmp_path_factory.mktemp("suppressions"), env).start()
    yield running
    running.stop()


def call(
    api: Server,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request with its query string (tests.support.http sends the path alone)."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    payload = raw
    if body is not None:
        payload = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    parts = urlsplit(api.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request(method, path, body=payload, headers=sent)
        answer = conn.getresponse()
        found = {k.lower(): v for k, v in answer.getheaders()}
        return Reply(answer.status, found, answer.read())
    finally:
        conn.close()


def tenant_key(api: Server, tenant: str | None = None) -> str:
    """A key of a tenant of its own (or of `tenant`), usable once the server has seen it."""
    tenant = tenant or f"t-{uuid.uuid4().hex[:12]}"
    made = run_cli(
        "keys",
        "create",
        "--name",
        f"{tenant}-{uuid.uuid4().hex[:8]}",
        "--tenant",
        tenant,
        "--scope",
        ALL_BUT_ADMIN,
        env=api.env,
        cwd=api.workdir,
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("pr_"), made.stdout
    wait_for(lambda: call(api, "GET", LIST, token=token).status == 200, 10, "the new key")
    return token


@pytest.fixture
def key(served: Server) -> str:
    return tenant_key(served)


def one(address: str) -> str:
    return ONE.format(address=quote(address, safe=""))


def everything(api: Server, token: str, query: str = "", limit: int = 2) -> list[dict[str, Any]]:
    """Every entry of the key's tenant, page by page, each page checked against the document."""
    entries: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(1000):
        reply = call(api, "GET", f"{LIST}?limit={limit}&cursor={cursor}{query}", token=token)
        assert reply.status == 200, reply.body
        conforms(api, LIST, "get", reply)
        page = reply.json()
        assert len(page["data"]) <= limit
        entries += page["data"]
        if page["nextCursor"] is None:
            return entries
        cursor = quote(page["nextCursor"], safe="")
    raise AssertionError("the pages never ended")


def rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def test_one_entry_is_added_with_its_defaults(served: Server, key: str) -> None:
    """POST one object: 201 added 1; GET shows it with reason manual, scope *, no expiry."""
    added = call(served, "POST", LIST, {"address": "ann+x@example.com"}, key)
    assert (added.status, added.json()) == (201, {"added": 1})
    conforms(served, LIST, "post", added)
    shown = call(served, "GET", one("ann+x@example.com"), token=key)
    assert shown.status == 200
    conforms(served, ONE, "get", shown)
    [entry] = shown.json()["data"]
    assert {k: v for k, v in entry.items() if k != "createdAt"} == {
        "address": "ann+x@example.com",
        "reason": "manual",
        "scope": "*",
        "expiresAt": None,
        "source": {"provider": None, "event": None, "emailId": None},
    }
    assert abs(datetime.fromisoformat(entry["createdAt"]).timestamp() - time.time()) < 60


def test_the_path_address_is_url_decoded_and_matched_in_any_case(served: Server, key: str) -> None:
    """`%2B`, a literal `+`, `%40` and another letter case all name the same entry."""
    assert call(served, "POST", LIST, {"address": "ann+x@example.com"}, key).status == 201
    for path in (
        one("ann+x@example.com"),
        f"{LIST}/ann+x@example.com",
        f"{LIST}/ann%2bx%40EXAMPLE.com",
        one("Ann+X@Example.COM"),
    ):
        reply = call(served, "GET", path, token=key)
        assert reply.status == 200, path
        assert [e["address"] for e in reply.json()["data"]] == ["ann+x@example.com"]


def test_a_list_of_entries_is_added_in_one_request(served: Server, key: str) -> None:
    """POST a list: every entry is stored with the reason, scope and expiry it was given."""
    expires = rfc3339(time.time() + 86400)
    entries = [
        {"address": "bob@example.org", "reason": "complaint"},
        {"address": "bob@example.org", "scope": "newsletter", "reason": "unsubscribe"},
        {"address": "cy@example.net", "reason": "hard_bounce", "expiresAt": expires},
        {"address": "dee@example.net", "expiresAt": None},
    ]
    added = call(served, "POST", LIST, entries, key)
    assert (added.status, added.json()) == (201, {"added": 4})
    bob = call(served, "GET", one("bob@example.org"), token=key).json()["data"]
    assert sorted((e["scope"], e["reason"]) for e in bob) == [
        ("*", "complaint"),
        ("newsletter", "unsubscribe"),
    ]
    [cy] = call(served, "GET", one("cy@example.net"), token=key).json()["data"]
    assert (cy["reason"], cy["expiresAt"]) == ("hard_bounce", expires)
    assert {e["address"] for e in everything(served, key)} == {
        "bob@example.org",
        "cy@example.net",
        "dee@example.net",
    }


def test_adding_an_entry_again_adds_nothing(served: Server, key: str) -> None:
    """An entry the list already holds for that address and scope is not counted again."""
    entry = {"address": "eve@example.org"}
    assert call(served, "POST", LIST, entry, key).json() == {"added": 1}
    again = call(served, "POST", LIST, [entry, {"address": "EVE@example.org"}], key)
    assert (again.status, again.json()) == (201, {"added": 0})
    assert len(call(served, "GET", one("eve@example.org"), token=key).json()["data"]) == 1


def test_the_list_pages_through_every_entry(served: Server, key: str) -> None:
    """limit and cursor walk the whole list once; the last page's nextCursor is null."""
    addresses = {f"page{i}@example.org" for i in range(7)}
    assert call(served, "POST", LIST, [{"address": a} for a in addresses], key).status == 201
    listed = [e["address"] for e in everything(served, key, limit=2)]
    assert sorted(listed) == sorted(addresses)
    whole = call(served, "GET", f"{LIST}?limit=500", token=key).json()
    assert whole["nextCursor"] is None
    assert [e["address"] for e in whole["data"]] == listed  # the same stable order
    default = call(served, "GET", f"{LIST}?reason=&cursor=&limit=", token=key).json()
    assert len(default["data"]) == 7


def test_the_list_filters_by_reason(served: Server, key: str) -> None:
    """?reason= lists only the entries with that reason, page by page."""
    entries = [{"address": f"m{i}@example.org"} for i in range(3)] + [
        {"address": f"c{i}@example.org", "reason": "complaint"} for i in range(3)
    ]
    assert call(served, "POST", LIST, entries, key).status == 201
    complaints = everything(served, key, "&reason=complaint", limit=2)
    assert sorted(e["address"] for e in complaints) == [f"c{i}@example.org" for i in range(3)]
    assert {e["reason"] for e in complaints} == {"complaint"}
    assert everything(served, key, "&reason=hard_bounce") == []


def test_delete_removes_one_scope_or_every_entry(served: Server, key: str) -> None:
    """DELETE ?scope= removes that entry; DELETE alone the rest; then GET and DELETE are 404."""
    entries = [{"address": "fay@example.org"}, {"address": "fay@example.org", "scope": "news"}]
    assert call(served, "POST", LIST, entries, key).json() == {"added": 2}
    scoped = call(served, "DELETE", one("fay@example.org") + "?scope=news", token=key)
    assert (scoped.status, scoped.json()) == (200, {"removed": 1})
    conforms(served, ONE, "delete", scoped)
    [left] = call(served, "GET", one("fay@example.org"), token=key).json()["data"]
    assert left["scope"] == "*"
    assert call(served, "DELETE", one("fay@example.org") + "?scope=news", token=key).status == 404
    assert call(served, "DELETE", one("FAY@example.org"), token=key).json() == {"removed": 1}
    gone = call(served, "GET", one("fay@example.org"), token=key)
    assert (gone.status, gone.json()["status"]) == (404, "NOT_FOUND")
    conforms(served, ONE, "get", gone)
    again = call(served, "DELETE", one("fay@example.org"), token=key)
    assert (again.status, again.json()["status"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize("address", ["nobody@example.org", "nope", "a@b", "Ann <ann@example.org>"])
def test_an_address_without_entries_is_404(served: Server, key: str, address: str) -> None:
    """GET and DELETE of an address not on the list (or not an address) are 404 envelopes."""
    for method in ("GET", "DELETE"):
        reply = call(served, method, one(address), token=key)
        assert (reply.status, reply.json()["status"]) == (404, "NOT_FOUND")


VALID = {"address": "gus@example.org"}


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"reason": "manual"}, "address"),
        ({"address": "bad@"}, "address"),
        ({"address": "gus@example"}, "address"),
        ({"address": "gus@example.test"}, "address"),
        ({"address": 42}, "address"),
        ({"address": "Gus <gus@example.org>"}, "address"),
        ({"address": " gus@example.org"}, "address"),
        ({**VALID, "reason": "bored"}, "reason"),
        ({**VALID, "reason": None}, "reason"),
        ({**VALID, "scope": ""}, "scope"),
        ({**VALID, "scope": "x" * 129}, "scope"),
        ({**VALID, "scope": "news\nletter"}, "scope"),
        ({**VALID, "scope": ["news"]}, "scope"),
        ({**VALID, "expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt"),
        ({**VALID, "expiresAt": "2030-01-01T00:00:00"}, "expiresAt"),
        ({**VALID, "expiresAt": "tomorrow"}, "expiresAt"),
        ({**VALID, "expiresAt": 1900000000}, "expiresAt"),
        ({**VALID, "expires_at": "2030-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_an_invalid_entry_refuses_the_whole_request(
    served: Server, key: str, entry: dict[str, Any], field: str
) -> None:
    """One bad field in a list is a 400 naming `[2].field`; nothing, not even the valid
    entries, is stored. A lone object's field is named without an index."""
    request_body = [{"address": "hal@example.org"}, {"address": "ivy@example.org"}, entry]
    refused = call(served, "POST", LIST, request_body, key)
    assert refused.status == 400, refused.body
    body = refused.json()
    assert body["status"] == "BAD_REQUEST"
    assert list(body["errors"]) == [f"[2].{field}"]
    conforms(served, LIST, "post", refused)
    lone = call(served, "POST", LIST, entry, key)
    assert (lone.status, list(lone.json()["errors"])) == (400, [field])
    assert everything(served, key) == []


def test_an_invalid_address_is_named_as_such(served: Server, key: str) -> None:
    """The error for a bad address says it is not a valid address."""
    refused = call(served, "POST", LIST, [VALID, VALID, {"address": "x@"}], key)
    assert refused.json()["errors"] == {"[2].address": "not a valid address"}


def test_every_bad_item_is_named(served: Server, key: str) -> None:
    """Several bad items: each problem of each is listed, and nothing is stored."""
    items: list[Any] = [5, {"address": "x@", "scope": ""}, VALID, "jo@example.org"]
    refused = call(served, "POST", LIST, items, key)
    assert refused.status == 400
    assert set(refused.json()["errors"]) == {"[0]", "[1].address", "[1].scope", "[3]"}
    assert everything(served, key) == []


@pytest.mark.parametrize(
    "raw",
    [b"{", b"", b"null", b"5", b'"kim@example.org"', b"[]", b"[" * 100_000 + b"]" * 100_000],
    ids=["open", "empty", "null", "number", "string", "no-entries", "deep"],
)
def test_a_body_that_is_no_entry_is_400(served: Server, key: str, raw: bytes) -> None:
    """Malformed JSON, or JSON that is neither an entry nor a list of them, is a 400 under
    `body`, never a 500."""
    headers = {"Content-Type": "application/json"}
    reply = call(served, "POST", LIST, token=key, raw=raw, headers=headers)
    assert reply.status == 400
    assert list(reply.json()["errors"]) == ["body"]
    assert everything(served, key) == []


def test_more_than_1000_entries_is_400(served: Server, key: str) -> None:
    """1,000 entries are taken in one request; 1,001 are refused and none is stored."""
    many = [{"address": f"n{i}@example.org"} for i in range(1001)]
    refused = call(served, "POST", LIST, many, key)
    assert (refused.status, list(refused.json()["errors"])) == (400, ["body"])
    assert everything(served, key, limit=500) == []
    assert call(served, "POST", LIST, many[:1000], key).json() == {"added": 1000}
    assert len(everything(served, key, limit=500)) == 1000


def test_a_body_that_is_not_json_is_415(served: Server, key: str) -> None:
    """Entries must be sent as application/json."""
    headers = {"Content-Type": "text/plain"}
    reply = call(
        served, "POST", LIST, token=key, raw=b'{"address": "lu@example.org"}', headers=headers
    )
    assert (reply.status, reply.json()["status"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    conforms(served, LIST, "post", reply)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("reason=bored", "reason"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("limit=-1", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=" + "x" * 600, "cursor"),
    ],
)
def test_a_bad_query_is_400_naming_it(served: Server, key: str, query: str, name: str) -> None:
    """An unknown reason, a limit out of range or a cursor no page gave is a 400, never a 500."""
    reply = call(served, "GET", f"{LIST}?{query}", token=key)
    assert reply.status == 400
    assert list(reply.json()["errors"]) == [name]
    conforms(served, LIST, "get", reply)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", LIST), ("POST", LIST), ("GET", one("ann@example.org")), ("DELETE", one("a@b.org"))],
)
def test_every_route_needs_a_key(served: Server, method: str, path: str) -> None:
    """Without a key, or with a wrong one, every route is the same 401."""
    for token in (None, "pr_wrong"):
        reply = call(served, method, path, {"address": "ann@example.org"}, token)
        assert (reply.status, reply.json()["status"]) == (401, "UNAUTHORIZED")
        assert reply.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", LIST, "GET, HEAD, POST"),
        ("DELETE", LIST, "GET, HEAD, POST"),
        ("POST", one("ann@example.org"), "DELETE, GET, HEAD"),
        ("PATCH", one("ann@example.org"), "DELETE, GET, HEAD"),
    ],
)
def test_wrong_method_is_405_with_allow(served: Server, method: str, path: str, allow: str) -> None:
    """A method the route does not take is a 405 listing the ones it does."""
    reply = call(served, method, path, raw=b"{}")
    assert (reply.status, reply.json()["status"]) == (405, "METHOD_NOT_ALLOWED")
    assert reply.headers["allow"] == allow


def test_tenants_do_not_see_each_others_entries(served: Server) -> None:
    """Two keys of two tenants: neither sees, finds nor removes the other's entries; two keys
    of one tenant share one list."""
    acme_name = f"acme-{uuid.uuid4().hex[:8]}"
    acme, globex = tenant_key(served, acme_name), tenant_key(served)
    assert call(served, "POST", LIST, {"address": "max@example.org"}, acme).json() == {"added": 1}
    assert call(served, "GET", one("max@example.org"), token=globex).status == 404
    assert call(served, "DELETE", one("max@example.org"), token=globex).status == 404
    assert everything(served, globex) == []
    mine = {"address": "max@example.org", "scope": "news"}
    assert call(served, "POST", LIST, mine, globex).json() == {"added": 1}
    [acme_entry] = call(served, "GET", one("max@example.org"), token=acme).json()["data"]
    assert acme_entry["scope"] == "*"
    [globex_entry] = call(served, "GET", one("max@example.org"), token=globex).json()["data"]
    assert globex_entry["scope"] == "news"
    colleague = tenant_key(served, acme_name)
    assert [e["address"] for e in everything(served, colleague)] == ["max@example.org"]


def _status(api: Server, email_id: str, token: str) -> dict[str, Any]:
    reply = call(api, "GET", f"/api/v1/email/{email_id}", token=token)
    assert reply.status == 200
    return reply.json()  # type: ignore[no-any-return]


def _outbox_mentions(api: Server, text: str) -> list[str]:
    folder = Path(api.workdir) / "outbox"
    return [p.name for p in folder.glob("*") if text in p.read_text(errors="replace")]


def test_a_send_to_only_suppressed_recipients_reaches_no_provider(served: Server, key: str) -> None:
    """The 202 names the suppressed recipient with a warning; the email ends `suppressed` and
    the outbox never receives it."""
    assert call(served, "POST", LIST, {"address": "ned@example.org"}, key).status == 201
    email = {"from": "shop@example.com", "to": ["Ned <ned@example.org>"], "subject": "Hi"}
    accepted = post_email(served.url, email, Authorization=f"Bearer {key}")
    assert accepted.status == 202
    body = accepted.json()
    assert body["suppressed"] == ["to[0]"]
    assert SUPPRESSED_WARNING in body["warnings"]
    email_id = body["id"]
    wait_for(
        lambda: _status(served, email_id, key)["status"] == "suppressed", 30, "the suppressed end"
    )
    status = _status(served, email_id, key)
    assert [r["state"] for r in status["recipients"]] == ["suppressed"]
    assert [e["type"] for e in status["recipients"][0]["events"]] == ["suppressed"]
    assert not list((Path(served.workdir) / "outbox").glob(f"{email_id}*"))
    assert _outbox_mentions(served, "ned@example.org") == []


def test_a_suppressed_recipient_is_dropped_and_the_other_sent_to(served: Server, key: str) -> None:
    """One of two recipients suppressed: the outbox .eml goes to the other alone, and the
    status shows the suppressed one's state as `suppressed`."""
    assert call(served, "POST", LIST, {"address": "oli@example.org"}, key).status == 201
    email = {
        "from": "shop@example.com",
        "to": ["oli@example.org", "pam@example.org"],
        "subject": "Hi",
        "body": "Hello",
    }
    accepted = post_email(served.url, email, Authorization=f"Bearer {key}")
    assert accepted.json()["suppressed"] == ["to[0]"]
    email_id = accepted.json()["id"]
    eml = Path(served.workdir) / "outbox" / f"{email_id}.eml"
    wait_for(eml.exists, 30, "the email in the outbox")
    message = eml.read_text(errors="replace")
    assert "pam@example.org" in message
    assert "oli@example.org" not in message
    envelope = json.loads(eml.with_suffix(".json").read_text())
    assert envelope["recipients"] == ["pam@example.org"]
    wait_for(
        lambda: _status(served, email_id, key)["recipients"][0]["state"] == "suppressed",
        30,
        "the suppressed recipient's state",
    )
    recipients = _status(served, email_id, key)["recipients"]
    assert [r["address"] for r in recipients] == ["oli@example.org", "pam@example.org"]
    assert recipients[1]["state"] != "suppressed"


def test_a_scoped_entry_blocks_only_emails_with_its_tag(served: Server, key: str) -> None:
    """An entry scoped to a tag suppresses emails carrying that tag, and no other."""
    entry = {"address": "quin@example.org", "scope": "newsletter"}
    assert call(served, "POST", LIST, entry, key).status == 201
    email = {"from": "shop@example.com", "to": "quin@example.org", "subject": "Hi"}
    auth = {"Authorization": f"Bearer {key}"}
    tagged = post_email(served.url, {**email, "tags": ["newsletter"]}, **auth).json()
    assert tagged["suppressed"] == ["to[0]"]
    other = post_email(served.url, {**email, "tags": ["receipt"]}, **auth).json()
    assert "suppressed" not in other
    eml = Path(served.workdir) / "outbox" / f"{other['id']}.eml"
    wait_for(eml.exists, 30, "the receipt in the outbox")
    wait_for(
        lambda: _status(served, tagged["id"], key)["status"] == "suppressed", 30, "the newsletter"
    )


def test_a_lapsed_entry_blocks_nothing(served: Server, key: str) -> None:
    """Once its expiresAt has passed, an entry is still shown but no longer suppresses."""
    lapses = time.time() + 1.5
    entry = {"address": "rae@example.org", "expiresAt": rfc3339(lapses)}
    assert call(served, "POST", LIST, entry, key).status == 201
    email = {"from": "shop@example.com", "to": "rae@example.org", "subject": "Hi"}
    auth = {"Authorization": f"Bearer {key}"}
    assert post_email(served.url, email, **auth).json()["suppressed"] == ["to[0]"]
    wait_for(lambda: time.time() > lapses + 0.1, 10, "the entry to lapse")
    assert "suppressed" not in post_email(served.url, email, **auth).json()
    [shown] = call(served, "GET", one("rae@example.org"), token=key).json()["data"]
    assert datetime.fromisoformat(shown["expiresAt"]).timestamp() < time.time()


def test_the_document_describes_the_routes(served: Server) -> None:
    """/openapi.json names the four suppression operations."""
    document = request("GET", f"{served.url}/openapi.json").json()
    operations = {op["operationId"] for p in (LIST, ONE) for op in document["paths"][p].values()}
    assert operations == {
        "listSuppressions",
        "addSuppressions",
        "getSuppression",
        "removeSuppression",
    }


def _future_time() -> st.SearchStrategy[str | None]:
    soon = st.floats(min_value=3600, max_value=10 * 365 * 86400)
    return st.one_of(st.none(), soon.map(lambda ahead: rfc3339(time.time() + ahead)))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_entries_the_schema_allows_are_accepted(served: Server, key: str, data: Any) -> None:
    """Any entry valid against the document's NewSuppression schema is stored (201)."""
    document = request("GET", f"{served.url}/openapi.json").json()
    schema = document["components"]["schemas"]["NewSuppression"]
    entry = data.draw(from_schema(schema, document, {"expiresAt": _future_time()}))
    reply = call(served, "POST", LIST, entry, key)
    assert reply.status == 201, (entry, reply.body)
    conforms(served, LIST, "post", reply)
    if "/" in entry["address"]:
        return  # named in a path: test_an_address_with_a_slash_can_be_named_in_the_path
    shown = call(served, "GET", one(entry["address"]), token=key)
    assert shown.status == 200, entry
    conforms(served, ONE, "get", shown)


def test_an_address_with_a_slash_can_be_named_in_the_path(served: Server, key: str) -> None:
    """`/` is allowed in a local part: such an address, URL-encoded, is shown and removed."""
    address = "dept/sales@example.org"
    assert call(served, "POST", LIST, {"address": address}, key).json() == {"added": 1}
    shown = call(served, "GET", one(address), token=key)
    assert shown.status == 200, shown.body
    assert [e["address"] for e in shown.json()["data"]] == [address]
    assert call(served, "DELETE", one(address), token=key).json() == {"removed": 1}


CANARY = "zq7canary"


def test_addresses_never_reach_the_log(workdir: Path) -> None:
    """Adding, refusing, listing, showing, removing and a suppressed send log no address."""
    serve = server(workdir, {"POSTROOM_LOG_LEVEL": "debug"}).start()
    address = f"{CANARY}+a@example.org"
    try:
        entries = [{"address": address}, {"address": f"{CANARY}b@example.org", "scope": CANARY}]
        assert call(serve, "POST", LIST, entries).status == 201
        assert call(serve, "POST", LIST, [*entries, {"address": f"{CANARY}@"}]).status == 400
        assert call(serve, "GET", f"{LIST}?limit=1").status == 200
        assert call(serve, "GET", one(address)).status == 200
        email = {"from": "shop@example.com", "to": [address, f"{CANARY}c@example.org"]}
        accepted = post_email(serve.url, email).json()
        assert accepted["suppressed"] == ["to[0]"]
        eml = workdir / "outbox" / f"{accepted['id']}.eml"
        wait_for(eml.exists, 30, "the email in the outbox")
        assert call(serve, "DELETE", one(address) + f"?scope={CANARY}").status == 404
        assert call(serve, "DELETE", one(address)).status == 200
        assert call(serve, "GET", one(f"{CANARY}x@example.org")).status == 404
    finally:
        serve.stop()
    assert_no_canary(serve)
