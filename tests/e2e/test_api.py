"""The HTTP API as a client sees it, against a real `postroom api` process and SQLite file."""

import base64
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi

from tests.support.http import Reply, post_email, request
from tests.support.processes import wait_for
from tests.support.server import Server

EMAIL = {
    "from": "Shop <shop@example.com>",
    "to": ["ann@example.org"],
    "subject": "Hi",
    "body": "Hello",
}


def _resolve(node: Any, document: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return _resolve(document["components"]["schemas"][name], document)
        return {key: _resolve(value, document) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, document) for item in node]
    return node


def conforms(api: Server, path: str, method: str, reply: Reply) -> None:
    """The reply's status is documented for the route and its body matches the schema."""
    document = request("GET", f"{api.url}/openapi.json").json()
    responses = document["paths"][path][method]["responses"]
    assert str(reply.status) in responses, f"{reply.status} not documented for {method} {path}"
    content = responses[str(reply.status)].get("content")
    if content:
        schema = _resolve(content["application/json"]["schema"], document)
        jsonschema.validate(reply.json(), schema)


def test_accepted_email_answers_202(api: Server) -> None:
    """A valid email gets 202 with its id, queued status and status URL."""
    reply = post_email(api.url, EMAIL)
    assert reply.status == 202
    body = reply.json()
    assert body["status"] == "queued"
    assert body["statusUrl"] == f"/api/v1/email/{body['id']}"
    assert reply.headers["location"] == body["statusUrl"]
    conforms(api, "/api/v1/email", "post", reply)


def test_status_shows_state_and_events_not_content(api: Server) -> None:
    """GET by id returns state and history, never the subject; the recipients' addresses
    only in `recipients`, for the key that sent the email."""
    email_id = post_email(api.url, {**EMAIL, "subject": "secret-subject-7781"}).json()["id"]
    reply = request("GET", f"{api.url}/api/v1/email/{email_id}")
    assert reply.status == 200
    body = reply.json()
    assert (body["id"], body["status"], body["attempts"]) == (email_id, "queued", 0)
    assert [e["status"] for e in body["events"]] == ["queued"]
    assert b"secret-subject-7781" not in reply.body
    assert [r["address"] for r in body.pop("recipients")] == ["ann@example.org"]
    assert "ann@example.org" not in json.dumps(body)
    conforms(api, "/api/v1/email/{id}", "get", reply)


@pytest.mark.parametrize(
    "email_id", ["0190ffff-0000-7000-8000-000000000000", "nope", "ann@example.org"]
)
def test_unknown_id_is_404(api: Server, email_id: str) -> None:
    """An unknown or malformed id is 404 with the error envelope."""
    reply = request("GET", f"{api.url}/api/v1/email/{email_id}")
    assert reply.status == 404
    assert reply.json()["status"] == "NOT_FOUND"


def test_scheduled_email(api: Server) -> None:
    """A future sendAt is answered as scheduled."""
    reply = post_email(api.url, {**EMAIL, "sendAt": int(time.time()) + 3600})
    assert (reply.status, reply.json()["status"]) == (202, "scheduled")


def test_invalid_fields_listed(api: Server) -> None:
    """400 names every bad field in the origin envelope."""
    reply = post_email(api.url, {"from": "nobody", "to": ["a@example.com", "b@"], "sendAt": "x"})
    assert reply.status == 400
    body = reply.json()
    assert body["status"] == "BAD_REQUEST"
    assert set(body["message"]) == {"short", "long"}
    assert set(body["errors"]) == {"from", "to[1]", "sendAt"}
    conforms(api, "/api/v1/email", "post", reply)


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"",
        b"\xff\xfe",
        b'{"from": "a@b.com",}',
        b"null",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"sendAt": 1e400}',
    ],
    ids=["open", "empty", "bytes", "trailing-comma", "null", "deep", "huge-number"],
)
def test_malformed_json_is_400(api: Server, raw: bytes) -> None:
    """A body that is not a JSON object is a 400, never a 500."""
    reply = request(
        "POST", f"{api.url}/api/v1/email", raw=raw, headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400
    assert reply.json()["status"] == "BAD_REQUEST"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_other_content_types_are_415(api: Server, content_type: str | None) -> None:
    """Only application/json is accepted."""
    headers = {"Content-Type": content_type} if content_type else {}
    reply = request("POST", f"{api.url}/api/v1/email", raw=b'{"a": 1}', headers=headers)
    assert reply.status == 415
    conforms(api, "/api/v1/email", "post", reply)


def test_json_with_charset_is_accepted(api: Server) -> None:
    """application/json; charset=utf-8 is JSON."""
    reply = request(
        "POST",
        f"{api.url}/api/v1/email",
        EMAIL,
        {"Content-Type": "application/json; charset=utf-8"},
    )
    assert reply.status == 202


def test_declared_oversize_body_is_413(api: Server) -> None:
    """A Content-Length over the limit is refused before the body is read."""
    big = b'{"x": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    reply = request(
        "POST", f"{api.url}/api/v1/email", raw=big, headers={"Content-Type": "application/json"}
    )
    assert reply.status == 413
    assert reply.json()["status"] == "PAYLOAD_TOO_LARGE"


def test_streamed_oversize_body_is_413(api: Server) -> None:
    """A chunked body is cut off as soon as it passes the limit."""
    sent = []

    def chunks() -> Any:
        for _ in range(12 * 16):
            sent.append(1)
            yield b"a" * 65536

    reply = request(
        "POST",
        f"{api.url}/api/v1/email",
        raw=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert reply.status == 413


def test_attachment_round_trip_is_accepted(api: Server) -> None:
    """Attachments in base64 with an inline content id are accepted."""
    content = base64.b64encode(b"\x89PNG....").decode()
    attachment = {
        "filename": "logo.png",
        "contentType": "image/png",
        "content": content,
        "contentId": "logo",
    }
    reply = post_email(
        api.url, {**EMAIL, "html": '<img src="cid:logo">', "attachments": [attachment]}
    )
    assert reply.status == 202


def test_idempotency_key(api: Server) -> None:
    """The same key and body gives the original id with 200; another body is a 409."""
    first = post_email(api.url, EMAIL, **{"Idempotency-Key": "order-1"})
    again = post_email(api.url, EMAIL, **{"Idempotency-Key": "order-1"})
    other = post_email(api.url, {**EMAIL, "subject": "Other"}, **{"Idempotency-Key": "order-1"})
    assert (first.status, again.status, other.status) == (202, 200, 409)
    assert again.json()["id"] == first.json()["id"]
    conforms(api, "/api/v1/email", "post", again)
    conforms(api, "/api/v1/email", "post", other)


def test_concurrent_requests_with_one_key_create_one_email(api: Server) -> None:
    """Ten simultaneous requests with one key: one 202, the rest 200 with the same id."""
    replies: list[Reply] = []

    def send() -> None:
        replies.append(post_email(api.url, EMAIL, **{"Idempotency-Key": "race-1"}))

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status for r in replies) == [200] * 9 + [202]
    assert len({r.json()["id"] for r in replies}) == 1


def test_bad_idempotency_key_is_400(api: Server) -> None:
    """A key with spaces or control characters is refused."""
    reply = post_email(api.url, EMAIL, **{"Idempotency-Key": "has space"})
    assert reply.status == 400
    assert "Idempotency-Key" in reply.json()["errors"]


def test_cancel(api: Server) -> None:
    """DELETE cancels a queued email, again is still cancelled, unknown is 404."""
    email_id = post_email(api.url, EMAIL).json()["id"]
    first = request("DELETE", f"{api.url}/api/v1/email/{email_id}")
    again = request("DELETE", f"{api.url}/api/v1/email/{email_id}")
    assert (first.status, first.json()["status"]) == (200, "cancelled")
    assert again.status == 200
    status = request("GET", f"{api.url}/api/v1/email/{email_id}").json()
    assert [e["status"] for e in status["events"]] == ["queued", "cancelled"]
    assert (
        request("DELETE", f"{api.url}/api/v1/email/0190ffff-0000-7000-8000-000000000000").status
        == 404
    )
    conforms(api, "/api/v1/email/{id}", "delete", first)


def test_health_and_readiness(api: Server) -> None:
    """/healthz and /readyz answer 200 while storage works."""
    assert request("GET", f"{api.url}/healthz").status == 200
    assert request("GET", f"{api.url}/readyz").json() == {"status": "ready"}


def test_openapi_document_is_valid(api: Server) -> None:
    """/openapi.json is a valid OpenAPI document describing the email routes."""
    document = request("GET", f"{api.url}/openapi.json").json()
    validate_openapi(document)
    assert {"/api/v1/email", "/api/v1/email/{id}", "/healthz", "/readyz"} <= set(document["paths"])


def test_docs_page(api: Server) -> None:
    """/docs is a readable HTML page naming the routes."""
    reply = request("GET", f"{api.url}/docs")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert b"POST /api/v1/email" in reply.body


def test_unknown_route_and_method(api: Server) -> None:
    """Unknown routes are 404 and wrong methods 405, both in the envelope."""
    assert request("GET", f"{api.url}/nope").json()["status"] == "NOT_FOUND"
    reply = request("PATCH", f"{api.url}/api/v1/email")
    assert (reply.status, reply.json()["status"]) == (405, "METHOD_NOT_ALLOWED")


RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def _status_of(api: Server, email_id: str) -> dict[str, Any]:
    reply = request("GET", f"{api.url}/api/v1/email/{email_id}")
    assert reply.status == 200
    return reply.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("offset", ["Z", "+02:00"])
def test_send_at_takes_an_rfc3339_time(api: Server, offset: str) -> None:
    """sendAt as an RFC 3339 string schedules the email for that instant."""
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    local = due.astimezone(timezone(timedelta(hours=2))) if offset != "Z" else due
    text = local.strftime("%Y-%m-%dT%H:%M:%S") + offset
    reply = post_email(api.url, {**EMAIL, "sendAt": text})
    assert (reply.status, reply.json()["status"]) == (202, "scheduled")
    status = _status_of(api, reply.json()["id"])
    assert status["sendAt"] == due.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.mark.parametrize("bad", ["2026-12-01T10:00:00", "tomorrow", "2026-13-01T10:00:00Z"])
def test_send_at_string_without_offset_or_malformed_is_400(api: Server, bad: str) -> None:
    """A date-time without an offset, or not a date-time at all, is refused and explained."""
    reply = post_email(api.url, {**EMAIL, "sendAt": bad})
    assert reply.status == 400
    assert "RFC 3339" in reply.json()["errors"]["sendAt"]


def test_send_at_in_milliseconds_is_400_saying_so(api: Server) -> None:
    """A sendAt in milliseconds gets a 400 that says it looks like milliseconds."""
    reply = post_email(api.url, {**EMAIL, "sendAt": int(time.time() * 1000) + 60_000})
    assert reply.status == 400
    message = reply.json()["errors"]["sendAt"]
    assert "milliseconds" in message
    assert "seconds" in message.replace("milliseconds", "")


def test_status_uses_rfc3339_utc_for_every_time(api: Server) -> None:
    """createdAt, sendAt and every event's time are RFC 3339 UTC strings."""
    email_id = post_email(api.url, {**EMAIL, "sendAt": int(time.time()) + 600}).json()["id"]
    request("DELETE", f"{api.url}/api/v1/email/{email_id}")
    status = _status_of(api, email_id)
    times = [status["createdAt"], status["sendAt"], *(e["at"] for e in status["events"])]
    assert len(times) == 4
    assert all(RFC3339_UTC.fullmatch(t) for t in times), times


def test_unknown_fields_are_accepted_with_a_warning(api: Server) -> None:
    """A misspelt field is ignored, still 202, and named in warnings with a suggestion."""
    reply = post_email(api.url, {**EMAIL, "htlm": "<p>Hi</p>"})
    assert reply.status == 202
    [warning] = reply.json()["warnings"]
    assert "htlm" in warning
    assert "'html'" in warning
    conforms(api, "/api/v1/email", "post", reply)


def test_email_with_neither_subject_nor_body_is_accepted_with_a_warning(api: Server) -> None:
    """No subject and no body: 202, and a warning saying so."""
    reply = post_email(api.url, {"from": "shop@example.com", "to": "ann@example.org"})
    assert reply.status == 202
    assert any("neither subject nor body" in w for w in reply.json()["warnings"])


def test_plain_email_has_no_warnings(api: Server) -> None:
    """An ordinary email's answer has no warnings field at all."""
    assert "warnings" not in post_email(api.url, EMAIL).json()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/v1/email", "GET, HEAD, POST"),
        ("DELETE", "/api/v1/email", "GET, HEAD, POST"),
        ("POST", "/api/v1/email/0190ffff-0000-7000-8000-000000000000", "DELETE, GET, HEAD"),
        ("PATCH", "/api/v1/email/nope", "DELETE, GET, HEAD"),
        ("POST", "/healthz", "GET, HEAD"),
        ("DELETE", "/readyz", "GET, HEAD"),
        ("POST", "/docs", "GET, HEAD"),
        ("PUT", "/openapi.json", "GET, HEAD"),
        ("POST", "/metrics", "GET, HEAD"),
        ("POST", "/", "GET, HEAD"),
    ],
)
def test_wrong_method_is_405_with_allow(api: Server, method: str, path: str, allow: str) -> None:
    """A method a path does not take is a 405 whose Allow lists the methods it does take."""
    reply = request(method, f"{api.url}{path}", raw=b"{}")
    assert (reply.status, reply.json()["status"]) == (405, "METHOD_NOT_ALLOWED")
    assert reply.headers["allow"] == allow


def test_root_redirects_to_docs(api: Server) -> None:
    """/ sends a browser to the readable API page."""
    reply = request("GET", f"{api.url}/")
    assert reply.status == 307
    assert reply.headers["location"] == "/docs"


@pytest.mark.parametrize("path", ["/api/v1/email", "/healthz", "/api/v1/email/nope", "/nope"])
def test_sane_request_id_is_echoed(api: Server, path: str) -> None:
    """An incoming X-Request-Id of safe characters comes back unchanged, on every route."""
    method = "POST" if path == "/api/v1/email" else "GET"
    reply = request(method, f"{api.url}{path}", EMAIL, {"X-Request-Id": "req-42.A_b"})
    assert reply.headers["x-request-id"] == "req-42.A_b"


@pytest.mark.parametrize("incoming", [None, "has space", "x" * 129, "semi;colon"])
@pytest.mark.parametrize("path", ["/api/v1/email", "/healthz"])
def test_other_request_ids_are_replaced(api: Server, path: str, incoming: str | None) -> None:
    """Without a usable X-Request-Id, each answer carries a new one of its own."""
    method = "POST" if path == "/api/v1/email" else "GET"
    headers = {"X-Request-Id": incoming} if incoming else {}
    first = request(method, f"{api.url}{path}", EMAIL, headers).headers["x-request-id"]
    second = request(method, f"{api.url}{path}", EMAIL, headers).headers["x-request-id"]
    assert first != second
    assert all(re.fullmatch(r"[A-Za-z0-9._-]{1,128}", rid) for rid in (first, second))


def test_log_lines_carry_the_request_id(api: Server) -> None:
    """The server's log line for an accepted email carries the request's id."""
    reply = post_email(api.url, EMAIL, **{"X-Request-Id": "trace-7781"})
    email_id = reply.json()["id"]

    def logged() -> bool:
        for line in api.output().splitlines():
            if line.startswith("{") and email_id in line:
                entry = json.loads(line)
                return entry.get("request_id") == "trace-7781"
        return False

    wait_for(logged, 10, "the email.accepted line with its request_id")
