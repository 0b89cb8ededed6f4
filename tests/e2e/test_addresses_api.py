"""Every non-ambiguous conformance address, sent through the API as a recipient."""

import pytest

from tests.conftest import conformance
from tests.support.http import post_email
from tests.support.server import Server

CASES = [c for c in conformance("addresses.json") if not c["ambiguous"]]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["source"].rsplit("#", 1)[-1][:40])
def test_address_through_the_api(api: Server, case: dict[str, object]) -> None:
    """Valid addresses are accepted (202); invalid ones are a 400 naming to[0]."""
    reply = post_email(
        api.url, {"from": "shop@example.com", "to": [case["address"]], "subject": "x"}
    )
    if case["valid"]:
        assert reply.status == 202, (case["note"], reply.body)
    else:
        assert reply.status == 400, case["note"]
        assert set(reply.json()["errors"]) == {_where_refused(str(case["address"]))}


def _where_refused(address: str) -> str:
    """A lone surrogate cannot be carried by valid JSON at all: the body itself is refused."""
    try:
        address.encode("utf-8")
    except UnicodeEncodeError:
        return "body"
    return "to[0]"
