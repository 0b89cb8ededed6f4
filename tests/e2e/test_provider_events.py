"""Provider events through the real webhook routes of a running `postroom serve`: verified,
recorded once, matched per recipient, and a bounce at one provider suppressing the address at
every provider. The test plays the provider: it signs each request as the provider's docs say."""

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.http import Reply, post_email, request
from tests.support.processes import FakeProvider, wait_for
from tests.support.server import Server, server

SIGNING_KEY = "mailgun-signing-key-for-tests"
ANN, BOB, CAROL = "ann@example.org", "bob@example.org", "carol@example.org"
_PRIVATE = ec.generate_private_key(ec.SECP256R1())
PUBLIC_KEY = base64.b64encode(
    _PRIVATE.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


@pytest.fixture
def fake(workdir: Path) -> Iterator[FakeProvider]:
    provider = FakeProvider(workdir)
    yield provider
    provider.stop()


@pytest.fixture
def serve(workdir: Path, fake: FakeProvider) -> Iterator[Server]:
    from urllib.parse import quote

    providers = (
        f"mailgun://key@mg.example.com?base_url={fake.url}&webhook_signing_key={SIGNING_KEY},"
        f"sendgrid://SG.key?base_url={fake.url}&webhook_public_key={quote(PUBLIC_KEY, safe='')}"
    )
    running = server(workdir, {"POSTROOM_PROVIDERS": providers}).start()
    yield running
    running.stop()


def mailgun_webhook(event: dict[str, Any], *, at: float | None = None, token: str = "") -> bytes:
    """A Mailgun "webhooks 2.0" body, signed as Mailgun signs: HMAC-SHA256 of timestamp+token."""
    timestamp = str(int(at if at is not None else time.time()))
    token = token or secrets.token_hex(25)
    signature = hmac.new(
        SIGNING_KEY.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    body = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event,
    }
    return json.dumps(body).encode()


def mailgun_event(kind: str, recipient: str, email_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": secrets.token_hex(8),
        "event": kind,
        "recipient": recipient,
        "timestamp": time.time(),
        "message": {"headers": {"message-id": "unknown@mg.example.com"}},
        "user-variables": {"postroom_id": email_id},
        **extra,
    }


def post_mailgun(serve: Server, body: bytes) -> Reply:
    return request(
        "POST",
        f"{serve.url}/webhooks/mailgun",
        headers={"Content-Type": "application/json"},
        raw=body,
    )


def post_sendgrid(serve: Server, events: list[dict[str, Any]]) -> Reply:
    """A SendGrid Signed Event Webhook POST: ECDSA P-256 over timestamp + body."""
    body = json.dumps(events).encode()
    timestamp = str(int(time.time()))
    signature = _PRIVATE.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }
    return request("POST", f"{serve.url}/webhooks/sendgrid", headers=headers, raw=body)


def sent(serve: Server, *to: str) -> str:
    reply = post_email(
        serve.url, {"from": "shop@example.com", "to": list(to), "subject": "Hi", "body": "Hello"}
    )
    assert reply.status == 202, reply.body
    email_id: str = reply.json()["id"]
    wait_for(
        lambda: status(serve, email_id)["status"] not in ("queued", "sending", "retrying"),
        30,
        "a send",
    )
    return email_id


def status(serve: Server, email_id: str) -> dict[str, Any]:
    return request("GET", f"{serve.url}/api/v1/email/{email_id}").json()  # type: ignore[no-any-return]


def states(serve: Server, email_id: str) -> list[str]:
    return [r["state"] for r in status(serve, email_id).get("recipients", [])]


def wait_states(serve: Server, email_id: str, expected: list[str]) -> dict[str, Any]:
    wait_for(lambda: states(serve, email_id) == expected, 30, f"recipient states {expected}")
    return status(serve, email_id)


def test_bounce_at_mailgun_stops_the_send_through_sendgrid(
    serve: Server, fake: FakeProvider
) -> None:
    """A hard bounce Mailgun reports suppresses the address: the next email, sent through
    SendGrid while Mailgun is down, reaches SendGrid without it."""
    email_id = sent(serve, ANN, BOB)
    bounce = mailgun_event(
        "failed",
        ANN,
        email_id,
        severity="permanent",
        reason="bounce",
        **{"delivery-status": {"code": 550, "message": f"550 5.1.1 <{ANN}> no such user"}},
    )
    assert post_mailgun(serve, mailgun_webhook(bounce)).status == 200
    body = wait_states(serve, email_id, ["bounced", "sent"])
    assert body["recipients"][0]["address"] == ANN
    assert body["recipients"][0]["bounce"] == "hard"
    assert ANN not in json.dumps(body["recipients"][0]["events"])  # the reason is scrubbed

    fake.behaviour({"only": ["mailgun"], "outage": True})
    reply = post_email(
        serve.url,
        {"from": "shop@example.com", "to": [ANN, CAROL], "subject": "Again", "body": "Hello"},
    )
    assert reply.json()["suppressed"] == ["to[0]"]
    second = reply.json()["id"]
    wait_for(lambda: status(serve, second)["status"] == "sent", 30, "the second send")
    (through_sendgrid,) = [a for a in fake.accepted()["accepted"] if a["provider"] == "sendgrid"]
    recipients = json.dumps(through_sendgrid["payload"]["personalizations"])
    assert CAROL in recipients
    assert ANN not in recipients
    assert states(serve, second) == ["suppressed", "sent"]


def test_every_recipient_suppressed_reaches_no_provider(serve: Server, fake: FakeProvider) -> None:
    """An email whose only recipient complained ends `suppressed`; no provider receives it."""
    email_id = sent(serve, BOB)
    complaint = mailgun_event("complained", BOB, email_id)
    assert post_mailgun(serve, mailgun_webhook(complaint)).status == 200
    wait_states(serve, email_id, ["complained"])
    before = fake.accepted()["count"]
    reply = post_email(
        serve.url, {"from": "shop@example.com", "to": [BOB], "subject": "Hi", "body": "Hi"}
    )
    second = reply.json()["id"]
    wait_for(lambda: status(serve, second)["status"] == "suppressed", 30, "suppressed")
    assert fake.accepted()["count"] == before
    assert states(serve, second) == ["suppressed"]


def test_forged_stale_and_replayed_requests_change_nothing(serve: Server) -> None:
    """A bad signature or a stale timestamp gets 401; Mailgun's own retry of a request is
    recorded once; its token reused with another body is refused."""
    email_id = sent(serve, ANN)
    delivered = mailgun_webhook(mailgun_event("delivered", ANN, email_id), token="t" * 50)
    forged = delivered.replace(b'"signature": "', b'"signature": "0')
    assert post_mailgun(serve, forged).status == 401
    stale = mailgun_webhook(mailgun_event("delivered", ANN, email_id), at=time.time() - 10 * 3600)
    assert post_mailgun(serve, stale).status == 401
    assert post_mailgun(serve, b"{not json").status in (400, 401)
    assert states(serve, email_id) == ["sent"]

    assert post_mailgun(serve, delivered).status == 200
    assert post_mailgun(serve, delivered).status == 200  # Mailgun's retry: same bytes
    other = mailgun_webhook(mailgun_event("complained", ANN, email_id), token="t" * 50)
    assert post_mailgun(serve, other).status == 401
    body = wait_states(serve, email_id, ["delivered"])
    assert [e["type"] for e in body["recipients"][0]["events"]] == ["delivered"]


def test_sendgrid_batch_out_of_order(serve: Server, fake: FakeProvider) -> None:
    """One signed SendGrid POST of several events, a late `delivered` among them after the
    bounce: each recipient ends where its strongest event puts it."""
    fake.behaviour({"only": ["mailgun"], "outage": True})
    email_id = sent(serve, ANN, BOB)
    now = int(time.time())

    def sg(kind: str, to: str, at: int, **extra: Any) -> dict[str, Any]:
        return {
            "email": to,
            "event": kind,
            "timestamp": at,
            "postroom_id": email_id,
            "sg_event_id": secrets.token_hex(8),
            "sg_message_id": "x.filter",
            **extra,
        }

    batch = [
        sg("bounce", BOB, now, type="bounce", reason="550 user unknown"),
        sg("open", ANN, now + 2),
        sg("delivered", BOB, now - 5),  # older, arriving later
        sg("delivered", ANN, now),
    ]
    assert post_sendgrid(serve, batch).status == 200
    body = wait_states(serve, email_id, ["delivered", "bounced"])
    assert body["recipients"][0]["opens"] == 1
    assert body["status"] == "delivered"


def test_unsigned_sendgrid_post_is_refused(serve: Server) -> None:
    """A SendGrid POST without its signature headers is refused and stores nothing."""
    reply = request(
        "POST",
        f"{serve.url}/webhooks/sendgrid",
        headers={"Content-Type": "application/json"},
        raw=b"[]",
    )
    assert reply.status == 401
    assert request("POST", f"{serve.url}/webhooks/nothing", raw=b"{}").status == 404


def test_no_address_in_the_log(serve: Server) -> None:
    """Webhooks, matching and suppression log no address."""
    email_id = sent(serve, ANN)
    bounce = mailgun_event("failed", ANN, email_id, severity="permanent")
    assert post_mailgun(serve, mailgun_webhook(bounce)).status == 200
    wait_states(serve, email_id, ["bounced"])
    post_email(serve.url, {"from": "shop@example.com", "to": [ANN], "subject": "x", "body": "y"})
    output = serve.output()
    assert "webhook.received" in output
    assert ANN not in output
    assert "ann@" not in output


def test_outbox_magic_bounce_suppresses_on_a_laptop(workdir: Path) -> None:
    """With the outbox, `bounce@simulator.example.com` bounces and is then suppressed; the
    other magic recipients get their own stories."""
    serve = server(workdir).start()
    try:
        bounce, opened = "bounce+1@simulator.example.com", "open@simulator.example.com"
        email_id = sent(serve, bounce, opened)
        body = wait_states(serve, email_id, ["bounced", "delivered"])
        assert body["recipients"][1]["opens"] == 1
        again = post_email(
            serve.url, {"from": "shop@example.com", "to": [bounce], "subject": "x", "body": "y"}
        ).json()
        assert again["suppressed"] == ["to[0]"]
        wait_for(lambda: status(serve, again["id"])["status"] == "suppressed", 30, "suppressed")
        assert not (workdir / "outbox" / f"{again['id']}.eml").exists()
    finally:
        serve.stop()
