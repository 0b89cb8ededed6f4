"""Webhooks out and the events feed through a running `postroom serve`, used through
postroom.client as an application would, with a real HTTP receiver that verifies every
request with the `standardwebhooks` package. Events come from the outbox's magic recipients
(docs/events.md, "Try it"), so every step is the server's own path: provider event recorded,
matched, written to the feed, fanned out to the endpoint's outbox, signed and POSTed."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from postroom.client import Client, NotFoundError
from tests.support.receiver import Receiver
from tests.support.server import Server, run_cli, server

FAST = "0,0.2,0.2,0.2,0.2"  # the schedule, shortened: five attempts within a second
SUBJECT = "CANARY-subject-7f3a"
BODY = "CANARY-body-91c2"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


def started(workdir: Path, **env: str) -> Server:
    settings = {
        "POSTROOM_WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8",
        "POSTROOM_WEBHOOK_SCHEDULE": FAST,
        **env,
    }
    return server(workdir, settings).start()


@pytest.fixture
def serve(workdir: Path) -> Iterator[Server]:
    running = started(workdir)
    yield running
    running.stop()


def send(client: Client, *to: str) -> str:
    email = {"from": "shop@example.com", "to": list(to), "subject": SUBJECT, "body": BODY}
    return client.send(email).id


def subscribe(client: Client, receiver: Receiver, types: list[str] | None = None) -> str:
    created = client.webhooks.create(receiver.url, types, "tests")
    receiver.secret = created["secret"]
    assert created["secret"].startswith("whsec_")
    return str(created["id"])


def test_a_bounce_reaches_the_endpoint_signed_with_the_recipient_and_no_content(
    serve: Server, receiver: Receiver
) -> None:
    client = Client(serve.url, "unused")
    subscribe(client, receiver)
    email_id = send(client, "bounce@simulator.example.com")
    receiver.wait(lambda r: bool(r.of_type("email.bounced")), "the bounce's webhook")
    bounced = receiver.of_type("email.bounced")[0]
    assert bounced.verified, "standardwebhooks refused the signature"
    data = bounced.payload["data"]
    assert data["email_id"] == email_id
    assert data["recipient"] == "bounce@simulator.example.com"
    assert data["bounce"] == "hard"
    assert bounced.webhook_id == data["id"] == f"evt_{data['seq']}"
    assert abs(int(bounced.headers["webhook-timestamp"]) - time.time()) < 60
    receiver.wait(lambda r: bool(r.of_type("email.sent")), "the send's webhook")
    for request in receiver.got:
        assert SUBJECT.encode() not in request.body
        assert BODY.encode() not in request.body
    assert "bounce@simulator.example.com" not in serve.output()


def test_an_endpoint_gets_only_the_types_it_asked_for(serve: Server, receiver: Receiver) -> None:
    client = Client(serve.url, "unused")
    every = Receiver().start()
    try:
        subscribe(client, receiver, ["email.delivered"])
        created = client.webhooks.create(every.url)
        every.secret = created["secret"]
        send(client, "delivered@simulator.example.com")
        every.wait(lambda r: len(r.delivered()) >= 2, "sent and delivered at the other endpoint")
        receiver.wait(lambda r: bool(r.delivered()), "the delivered webhook")
        assert {r.payload["type"] for r in receiver.delivered()} == {"email.delivered"}
        assert {r.payload["type"] for r in every.delivered()} == {"email.sent", "email.delivered"}
    finally:
        every.stop()


def test_a_receiver_that_fails_then_recovers_gets_every_event_once(
    serve: Server, receiver: Receiver
) -> None:
    client = Client(serve.url, "unused")
    endpoint = subscribe(client, receiver)
    receiver.statuses = [500, 503, 500, 500]
    ids = [send(client, f"delivered+{n}@simulator.example.com") for n in range(4)]
    # sent and delivered for each email.
    receiver.wait(lambda r: len({x.webhook_id for x in r.delivered()}) == 8, "all eight events")
    delivered = receiver.delivered()
    assert len(delivered) == len({r.webhook_id for r in delivered}) == 8
    assert all(r.verified for r in receiver.got)
    assert {r.payload["data"]["email_id"] for r in delivered} == set(ids)
    failed = [r for r in receiver.got if r.status >= 500]
    assert len(failed) == 4
    # Every failed webhook-id came again and was taken.
    assert {r.webhook_id for r in failed} <= {r.webhook_id for r in delivered}
    # Settled after the receiver answered: each attempt shows once it is recorded.
    receiver.wait(
        lambda r: len(client.webhooks.attempts(endpoint, limit=100)["data"]) == 12,
        "every attempt recorded",
    )
    attempts = client.webhooks.attempts(endpoint, limit=100)["data"]
    assert sorted(a["status"] for a in attempts) == sorted([500, 503, 500, 500] + [200] * 8)


def test_410_disables_the_endpoint_and_says_so(serve: Server, receiver: Receiver) -> None:
    client = Client(serve.url, "unused")
    watcher = Receiver().start()
    try:
        created = client.webhooks.create(watcher.url, ["webhook.endpoint.disabled"])
        watcher.secret = created["secret"]
        endpoint = subscribe(client, receiver)
        receiver.status = 410
        send(client, "delivered@simulator.example.com")
        watcher.wait(lambda r: bool(r.delivered()), "webhook.endpoint.disabled")
        notice = watcher.delivered()[0]
        assert notice.verified
        assert notice.payload["type"] == "webhook.endpoint.disabled"
        assert notice.payload["data"]["endpoint_id"] == endpoint
        shown = client.webhooks.get(endpoint)
        assert shown["enabled"] is False
        assert "410" in shown["disabledReason"]
        # Disabled, it is given nothing new (the feed has it all); what it had waits.
        later = send(client, "delivered@simulator.example.com")
        wait_feed(client, 5)  # two emails' sent and delivered, and the notice
        gone = [r for r in receiver.got if r.status == 410]
        assert 1 <= len(gone) <= 2  # the first email's two events may have gone out together
        receiver.status = 200
        client.webhooks.update(endpoint, enabled=True)
        receiver.wait(lambda r: len(r.delivered()) == 2, "the waiting events after enabling")
        delivered = receiver.delivered()
        assert len({r.webhook_id for r in delivered}) == 2
        assert later not in {r.payload["data"]["email_id"] for r in delivered}
        assert client.webhooks.get(endpoint)["disabledReason"] is None
    finally:
        watcher.stop()


def test_replay_sends_the_failed_messages_again_under_their_ids(
    workdir: Path, receiver: Receiver
) -> None:
    running = started(workdir, POSTROOM_WEBHOOK_SCHEDULE="0")  # one attempt, then failed
    try:
        client = Client(running.url, "unused")
        endpoint = subscribe(client, receiver)
        receiver.status = 500
        send(client, "delivered@simulator.example.com")
        receiver.wait(lambda r: len(r.got) == 2, "both events tried once")
        first = {r.webhook_id for r in receiver.got}
        receiver.wait(
            lambda r: len(client.webhooks.attempts(endpoint)["data"]) == 2, "attempts recorded"
        )
        receiver.status = 200
        assert client.webhooks.replay(endpoint, failed_only=True) == 2
        receiver.wait(lambda r: len(r.delivered()) == 2, "the replayed events")
        assert {r.webhook_id for r in receiver.delivered()} == first
        # One of them again, by its webhook-id; a replay of nothing is 0.
        one = sorted(first)[0]
        assert client.webhooks.replay(endpoint, webhook_id=one) == 1
        receiver.wait(lambda r: len(r.delivered()) == 3, "the one replayed again")
        assert receiver.delivered()[-1].webhook_id == one
        assert client.webhooks.replay(endpoint, failed_only=True) == 0
    finally:
        running.stop()


def test_without_an_allowed_network_loopback_and_metadata_addresses_are_refused(
    workdir: Path, receiver: Receiver
) -> None:
    running = server(workdir).start()  # no POSTROOM_WEBHOOK_ALLOW_CIDRS
    try:
        client = Client(running.url, "unused")
        local = subscribe(client, receiver)
        metadata = client.webhooks.create("http://169.254.169.254/latest/meta-data/")["id"]
        for endpoint in (local, metadata):
            client.webhooks.test(endpoint)
        for endpoint in (local, metadata):
            receiver.wait(
                lambda r, e=endpoint: bool(client.webhooks.attempts(e)["data"]),
                "the refused attempt",
            )
            attempt = client.webhooks.attempts(endpoint)["data"][0]
            assert attempt["status"] is None
            assert attempt["error"].startswith("refused"), attempt
            assert "127.0.0.1" not in attempt["error"]
            assert "169.254" not in attempt["error"]
        assert receiver.got == []
    finally:
        running.stop()


def test_the_feed_catches_up_from_its_cursor_with_nothing_missed_or_repeated(
    serve: Server,
) -> None:
    client = Client(serve.url, "unused")
    for n in range(4):
        send(client, f"delivered+{n}@simulator.example.com")
    wait_feed(client, 8)
    seen: list[dict[str, object]] = []
    page = client.events(after=0, limit=3)
    seen.extend(page["data"])
    cursor = page["cursor"]
    # The consumer is away while more happens.
    for n in range(4, 7):
        send(client, f"delivered+{n}@simulator.example.com")
    wait_feed(client, 14)
    while True:
        page = client.events(after=cursor, limit=3)
        if not page["data"]:
            break
        seen.extend(page["data"])
        cursor = page["cursor"]
    seqs = [event["data"]["seq"] for event in seen]  # type: ignore[index]
    assert seqs == sorted(seqs)
    assert len(seqs) == len(set(seqs)) == 14
    everything = client.events(after=0, limit=1000)["data"]
    assert seen == everything
    bounced_only = client.events(types=["email.bounced"])["data"]
    assert bounced_only == []
    delivered = client.events(types=["email.delivered"])["data"]
    assert len(delivered) == 7


def wait_feed(client: Client, count: int) -> None:
    deadline = time.monotonic() + 20
    while len(client.events(limit=1000)["data"]) < count:
        assert time.monotonic() < deadline, f"the feed never reached {count} events"
        time.sleep(0.05)


def test_killed_mid_delivery_the_event_is_sent_again_under_the_same_id(
    workdir: Path, receiver: Receiver
) -> None:
    env = {"POSTROOM_WEBHOOK_TIMEOUT": "2"}  # a lease then lapses 12 s after it was taken
    running = started(workdir, **env)
    client = Client(running.url, "unused")
    subscribe(client, receiver, ["email.delivered"])
    receiver.hang = True
    send(client, "delivered@simulator.example.com")
    assert receiver.arrived.wait(20), "the first attempt never arrived"
    running.kill()  # while the receiver holds the request
    receiver.hang = False
    receiver.released.set()
    restarted = started(workdir, **env)
    try:
        receiver.wait(lambda r: len(r.delivered()) >= 2, "the event again", timeout=40)
        ids = [r.webhook_id for r in receiver.delivered()]
        assert len(set(ids)) == 1, "one event, delivered at least once under one id"
    finally:
        restarted.stop()


def test_endpoints_through_the_client_and_the_cli(serve: Server, workdir: Path) -> None:
    client = Client(serve.url, "unused")
    created = client.webhooks.create("https://hooks.example.com/in", ["email.bounced"], "shop")
    endpoint = created["id"]
    assert client.webhooks.get(endpoint)["types"] == ["email.bounced"]
    assert "secret" not in client.webhooks.get(endpoint)
    assert [e["id"] for e in client.webhooks.list()] == [endpoint]
    assert client.webhooks.update(endpoint, types=None)["types"] is None
    rotated = client.webhooks.rotate(endpoint)
    assert rotated["secret"] != created["secret"]
    env = {"POSTROOM_DATABASE_URL": f"sqlite:///{workdir}/postroom.db"}
    listed = run_cli("webhooks", "list", env=env)
    assert listed.returncode == 0
    assert endpoint in listed.stdout
    added = run_cli(
        "webhooks", "add", "https://other.example.com/x", "--types", "email.sent", env=env
    )
    assert added.returncode == 0
    assert "whsec_" in added.stdout
    refused = run_cli("webhooks", "add", "ftp://x.example.com", env=env)
    assert refused.returncode == 2
    assert "url" in refused.stderr
    client.webhooks.delete(endpoint)
    with pytest.raises(NotFoundError):
        client.webhooks.get(endpoint)


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://h.example.com", "types": ["email.nope"]},
        {"url": "https://user:pass@h.example.com"},
        {"url": "gopher://h.example.com"},
        {"url": 5},
        {"types": []},
        {"url": "https://h.example.com", "extra": 1},
    ],
)
def test_bad_endpoints_are_refused_with_a_400(serve: Server, body: dict[str, object]) -> None:
    from tests.support.http import request

    reply = request("POST", f"{serve.url}/api/v1/webhooks", body)
    assert reply.status == 400, reply.body
    assert b"pass" not in reply.body


async def test_the_async_client_manages_endpoints_and_reads_the_feed(serve: Server) -> None:
    from postroom.client import AsyncClient

    async with AsyncClient(serve.url, "unused") as client:
        # A closed local port: the test event it is sent fails here, never on the internet.
        created = await client.webhooks.create("https://127.0.0.1:9/a", ["email.sent"])
        endpoint = created["id"]
        assert [e["id"] for e in await client.webhooks.list()] == [endpoint]
        assert (await client.webhooks.update(endpoint, description="x"))["description"] == "x"
        assert (await client.webhooks.test(endpoint)).startswith("evt_test_")
        assert (await client.webhooks.rotate(endpoint))["secret"].startswith("whsec_")
        # The test event is the endpoint's one message: a replay of every time finds it.
        assert await client.webhooks.replay(endpoint, since="2020-01-01T00:00:00Z") == 1
        assert await client.webhooks.replay(endpoint, until="2020-01-01T00:00:00Z") == 0
        assert (await client.webhooks.attempts(endpoint))["nextCursor"] is None
        page = await client.events(after=0)
        assert page["cursor"] == 0
        assert page["data"] == []
        await client.webhooks.delete(endpoint)
        with pytest.raises(NotFoundError):
            await client.webhooks.get(endpoint)


def test_after_a_rotation_both_secrets_verify(serve: Server, receiver: Receiver) -> None:
    from standardwebhooks.webhooks import Webhook

    client = Client(serve.url, "unused")
    endpoint = subscribe(client, receiver)
    new = client.webhooks.rotate(endpoint)["secret"]
    client.webhooks.test(endpoint)
    receiver.wait(lambda r: bool(r.of_type("webhook.test")), "the test event")
    got = receiver.of_type("webhook.test")[0]
    assert got.verified  # with the old secret, during its grace
    Webhook(new).verify(got.body, got.headers)  # raises unless the new one signed it too
    assert len(got.headers["webhook-signature"].split(" ")) == 2


def test_a_cancel_tells_each_recipient_once_however_often_it_is_retried(
    serve: Server,
) -> None:
    """The recipients' `cancelled` events are written after the cancel, so a caller that lost
    the answer (or got a 503) retries the DELETE: each retry answers 200 and the feed still
    holds one `email.cancelled` per recipient."""
    client = Client(serve.url, "unused")
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    email = {
        "from": "shop@example.com",
        "to": ["a@example.org", "b@example.org"],
        "subject": SUBJECT,
        "body": BODY,
        "sendAt": later,
    }
    email_id = client.send(email).id
    for _ in range(3):
        assert client.cancel(email_id) == {"id": email_id, "status": "cancelled"}
    told = client.events(types=["email.cancelled"])["data"]
    assert sorted(e["data"]["recipient"] for e in told) == ["a@example.org", "b@example.org"]  # type: ignore[index]
    assert {e["data"]["email_id"] for e in told} == {email_id}  # type: ignore[index]
