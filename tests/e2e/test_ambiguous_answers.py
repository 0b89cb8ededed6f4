"""A provider's 2xx that cannot be read (empty, garbage, cut after the head) is a send: the email
is sent once, its id unknown in its events, and nothing fails over to the next provider."""

from pathlib import Path
from typing import Any

import pytest

from tests.support.http import post_email, request
from tests.support.processes import FakeProvider, wait_for
from tests.support.server import server

EMAIL = {"from": "shop@example.com", "to": ["ann@example.org"], "subject": "Hi", "text": "Hello"}
CREDENTIALS = {"mailgun": "key-1@mg.example.com", "sendgrid": "SG.key-1", "postmark": "t-1"}
# More emails per kind than the failures that would open a circuit (BreakerPolicy.threshold).
PER_KIND = 6


def _url(name: str, fake: FakeProvider) -> str:
    return f"{name}://{CREDENTIALS[name]}?base_url={fake.url}&timeout=5"


def _sent_event(api_url: str, email_id: str) -> dict[str, Any] | None:
    body = request("GET", f"{api_url}/api/v1/email/{email_id}").json()
    if body["status"] != "sent":
        return None
    sent = [e for e in body["events"] if e["status"] == "sent"]
    assert len(sent) == 1, body["events"]
    return sent[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("primary", "second"),
    [("mailgun", "sendgrid"), ("sendgrid", "postmark"), ("postmark", "mailgun")],
)
def test_an_unreadable_2xx_is_sent_once_and_never_fails_over(
    workdir: Path, primary: str, second: str
) -> None:
    """Empty, garbage and cut 200s: every email sent by the primary, id unknown, second unused."""
    fake = FakeProvider(workdir)
    env = {"POSTROOM_PROVIDERS": f"{_url(primary, fake)},{_url(second, fake)}"}
    api = server(workdir, env).start()
    try:
        for kind in ("empty", "garbage", "cut"):
            fake.behaviour({"ambiguous": kind, "only": [primary]})
            ids = [post_email(api.url, EMAIL).json()["id"] for _ in range(PER_KIND)]
            events: dict[str, dict[str, Any]] = {}

            def all_sent(ids: list[str] = ids, events: dict[str, Any] = events) -> bool:
                events.update((i, e) for i in ids if (e := _sent_event(api.url, i)) is not None)
                return len(events) == len(ids)

            wait_for(all_sent, 30, f"every email answered {kind!r} to be sent")
            for event in events.values():
                assert event["provider"] == primary
                assert event["reason"] is None  # the provider's message id is unknown
                assert event["code"] == "http_200_id_unknown"
        accepted = fake.accepted()["accepted"]
        assert [a["provider"] for a in accepted] == [primary] * (3 * PER_KIND)
    finally:
        api.stop()
        fake.stop()
