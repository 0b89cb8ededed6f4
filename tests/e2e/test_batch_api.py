"""POST /api/v1/email/batch against a real `postroom api` process and SQLite file."""

import base64
import sqlite3
from pathlib import Path
from typing import Any

from tests.e2e.test_api import conforms
from tests.support.http import request
from tests.support.keys import create_key
from tests.support.server import Server, server

BATCH = "/api/v1/email/batch"
EMAIL = {"from": "Shop <shop@example.com>", "subject": "Hi", "body": "Hello"}


def email(n: int, **more: Any) -> dict[str, Any]:
    return {**EMAIL, "to": [f"user{n}@example.org"], **more}


def post_batch(api: Server, emails: list[Any], **headers: str) -> Any:
    return request("POST", f"{api.url}{BATCH}", {"emails": emails}, headers)


def stored(api: Server, ids: list[str]) -> int:
    """How many of these ids the server's SQLite file holds, read-only."""
    with sqlite3.connect(f"file:{api.workdir}/postroom.db?mode=ro", uri=True) as conn:
        marks = ",".join("?" * len(ids))
        query = f"SELECT count(*) FROM emails WHERE id IN ({marks})"
        return int(conn.execute(query, ids).fetchone()[0])


def test_a_hundred_emails_in_one_request_get_a_hundred_ids(api: Server) -> None:
    """Every item is accepted with its own id, and every id is stored and readable."""
    reply = post_batch(api, [email(n) for n in range(100)])
    assert reply.status == 200
    conforms(api, BATCH, "post", reply)
    results = reply.json()["data"]
    ids = [r["id"] for r in results]
    assert [r["code"] for r in results] == [202] * 100
    assert len(set(ids)) == 100
    assert stored(api, ids) == 100
    status = request("GET", f"{api.url}{results[42]['statusUrl']}")
    assert status.json()["status"] == "queued"


def test_mixed_items_are_answered_in_order_and_only_valid_ones_stored(api: Server) -> None:
    """Invalid items get their errors at their place; the valid ones around them are stored;
    attachments are allowed."""
    attachment = {"filename": "a.txt", "content": base64.b64encode(b"hi").decode()}
    items = [
        email(1),
        {**EMAIL, "to": ["not an address"]},
        email(2, attachments=[attachment]),
        "not an object",
        email(3, template="nope"),
    ]
    results = post_batch(api, items).json()["data"]
    assert [r["code"] for r in results] == [202, 400, 202, 400, 400]
    assert "to[0]" in results[1]["errors"]
    assert results[3]["errors"] == {"body": "must be a JSON object"}
    assert stored(api, [results[0]["id"], results[2]["id"]]) == 2
    assert all("id" not in results[i] for i in (1, 3, 4))


def test_a_retried_batch_with_a_key_returns_the_same_ids(api: Server) -> None:
    """Idempotency-Key makes each item idempotent: the retry answers the originals (200) and
    stores nothing new; another email at a used index is a 409 for that item alone."""
    items = [email(n) for n in range(5)]
    first = post_batch(api, items, **{"Idempotency-Key": "batch-retry-1"}).json()["data"]
    again = post_batch(api, items, **{"Idempotency-Key": "batch-retry-1"}).json()["data"]
    assert [r["id"] for r in again] == [r["id"] for r in first]
    assert [r["code"] for r in again] == [200] * 5
    changed = [email(9), *items[1:]]
    mixed = post_batch(api, changed, **{"Idempotency-Key": "batch-retry-1"}).json()["data"]
    assert [r["code"] for r in mixed] == [409, 200, 200, 200, 200]


def test_a_batch_over_the_limit_is_refused_whole(api: Server) -> None:
    """501 emails is a 413 and nothing is stored; an empty batch is a 400."""
    reply = post_batch(api, [email(n) for n in range(501)])
    assert reply.status == 413
    conforms(api, BATCH, "post", reply)
    assert reply.json()["errors"] == {"emails": "at most 500 emails"}
    assert post_batch(api, []).status == 400


def test_suppressed_recipients_are_named_per_item(api: Server) -> None:
    """An item sent to a suppressed address is stored and says which recipient is blocked."""
    added = request(
        "POST", f"{api.url}/api/v1/suppressions", {"address": "blocked-batch@example.org"}
    )
    assert added.status == 201
    items = [email(1), {**EMAIL, "to": ["ok@example.org", "blocked-batch@example.org"]}]
    results = post_batch(api, items).json()["data"]
    assert "suppressed" not in results[0]
    assert results[1]["suppressed"] == ["to[1]"]
    assert results[1]["code"] == 202


def test_items_past_the_keys_daily_quota_are_refused_in_order(tmp_path: Path) -> None:
    """With 3 emails left in the key's day, a batch of 5 stores the first 3; the last 2 are
    429 and stored nowhere, and the next batch gets none."""
    env = {"POSTROOM_INSECURE_NO_AUTH": "false", "POSTROOM_DAILY_QUOTA": "3"}
    api = server(tmp_path, env, command="api")
    key = create_key(api, "batch-quota")
    api.start()
    try:
        auth = {"Authorization": f"Bearer {key}"}
        results = post_batch(api, [email(n) for n in range(5)], **auth).json()["data"]
        assert [r["code"] for r in results] == [202, 202, 202, 429, 429]
        assert results[3]["errors"] == {"email": "over this API key's sending limit; retry later"}
        assert stored(api, [r["id"] for r in results[:3]]) == 3
        again = post_batch(api, [email(9)], **auth).json()["data"]
        assert [r["code"] for r in again] == [429]
    finally:
        api.stop()
