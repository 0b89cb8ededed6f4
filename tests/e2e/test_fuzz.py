"""Property-based fuzzing of the running API: no 5xx, no hang, and every 202 keeps its promise."""

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.http import request
from tests.support.schema_strategy import from_schema
from tests.support.server import Server, server

_text = st.text(max_size=40)
_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), _text
)
_json = st.recursive(
    _scalar,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(_text, c, max_size=3),
    max_leaves=12,
)
_address = st.one_of(
    st.sampled_from(
        ["ann@example.org", "Ann <ann@example.org>", '"a b"@example.org', "x@xn--bcher-kva.example"]
    ),
    st.fixed_dictionaries({"email": st.sampled_from(["ann@example.org", "bad"]), "name": _text}),
    _text,
)
_email = st.fixed_dictionaries(
    {"from": _address, "to": st.lists(_address, max_size=3)},
    optional={
        "cc": st.lists(_address, max_size=2),
        "subject": _text,
        "body": _text,
        "html": _text,
        "sendAt": st.one_of(
            st.integers(min_value=-(2**40), max_value=2**40), st.floats(allow_nan=False)
        ),
        "headers": st.dictionaries(
            st.sampled_from(["X-A", "From", "X B", "X-\u00e9"]), _json, max_size=2
        ),
        "attachments": st.lists(
            st.fixed_dictionaries(
                {"filename": _text, "content": _text},
                optional={"contentType": _text, "contentId": _text},
            ),
            max_size=2,
        ),
        "tags": st.lists(_json, max_size=3),
        "metadata": st.dictionaries(_text, _json, max_size=2),
        "unknown": _json,
    },
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = server(tmp_path_factory.mktemp("fuzz"), command="api").start()
    yield running
    running.stop()


def _post(api: Server, raw: bytes) -> Any:
    return request(
        "POST",
        f"{api.url}/api/v1/email",
        raw=raw,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(email=_email)
def test_shaped_requests(api: Server, email: dict[str, Any]) -> None:
    """Requests shaped like emails: 202 or 400 only, and a 202's id is stored and readable."""
    reply = _post(api, json.dumps(email).encode())
    assert reply.status in (202, 400), reply.body
    body = reply.json()
    if reply.status == 400:
        assert body["errors"]
        assert body["status"] == "BAD_REQUEST"
        return
    status = request("GET", f"{api.url}/api/v1/email/{body['id']}")
    assert status.status == 200
    assert status.json()["status"] in ("queued", "scheduled")


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.one_of(st.binary(max_size=200), _json.map(lambda v: json.dumps(v).encode())))
def test_arbitrary_bodies(api: Server, raw: bytes) -> None:
    """Any bytes at all: a 4xx answer in the error envelope, never a 5xx."""
    reply = _post(api, raw)
    assert 400 <= reply.status < 500 or reply.status == 202
    assert reply.json()["status"]


def _send_at() -> st.SearchStrategy[Any]:
    """sendAt inside the window the API takes: the schema cannot state "at most 30 days from
    now", so this one field is drawn from that window rather than from the schema."""
    now = time.time()
    seconds = st.floats(min_value=now - 10 * 86400, max_value=now + 29 * 86400)
    return st.one_of(
        st.none(),
        seconds,
        seconds.map(lambda t: datetime.fromtimestamp(t, UTC).isoformat()),
    )


@pytest.fixture(scope="module")
def schema_emails(api: Server) -> st.SearchStrategy[Any]:
    """Email requests drawn from the EmailRequest schema the running server publishes."""
    document = request("GET", f"{api.url}/openapi.json").json()
    schema = document["components"]["schemas"]["EmailRequest"]
    return from_schema(schema, document, {"sendAt": _send_at()})


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
@given(data=st.data())
def test_requests_generated_from_the_schema_are_accepted(
    api: Server, schema_emails: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    """Every request valid against the published schema is accepted with 202 and stored."""
    email = data.draw(schema_emails, label="email")
    reply = _post(api, json.dumps(email).encode())
    assert reply.status == 202, reply.body
    status = request("GET", f"{api.url}/api/v1/email/{reply.json()['id']}")
    assert status.status == 200
    assert status.json()["status"] in ("queued", "scheduled")


def test_fuzzing_left_the_server_healthy(api: Server) -> None:
    """After the fuzzing the server still answers and is ready."""
    assert request("GET", f"{api.url}/readyz").status == 200
