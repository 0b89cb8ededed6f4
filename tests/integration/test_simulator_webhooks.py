"""`postroom fake-provider` posting webhooks for magic recipients: an email sent through each
provider's API comes back as that provider's signed webhooks, at a receiver on this machine."""

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import RunningSimulator, conformance
from tests.support.processes import FakeProvider, wait_for

ID = "0191b5e4-7c6a-7b3e-9c1d-2f4a5b6c7d8e"
SIGNING_KEY = "mg-signing-key"
SENDGRID_KEY = conformance("webhooks.json")["sendgrid"]["generated_test_key"]
HOOK_AUTH = "Basic " + base64.b64encode(b"hook:s3cret").decode()


@dataclass(frozen=True)
class Hook:
    provider: str
    # Names lower-cased.
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A webhook endpoint, `POST /webhooks/{provider}`, on a free port in a thread of its own
    (the tests wait synchronously): it keeps every request, and answers 500 to the next
    `failures` of them, 200 to the rest."""

    def __init__(self) -> None:
        self.hooks: list[Hook] = []
        self.failures = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        assert self._started.wait(10), "the receiver did not start"

    def url(self, provider: str, credentials: str = "") -> str:
        return f"http://{credentials}127.0.0.1:{self.port}/webhooks/{provider}"

    def of(self, provider: str, message_id: str) -> list[Hook]:
        """The requests about the email `provider` answered with `message_id`, in arrival order."""
        return [h for h in self.hooks if h.provider == provider and message_id.encode() in h.body]

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        runner = web.AppRunner(self._app(), shutdown_timeout=0.1)
        self._loop.run_until_complete(self._start(runner))
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/{provider}", self._take)
        return app

    async def _start(self, runner: web.AppRunner) -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _take(self, request: web.Request) -> web.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.hooks.append(Hook(request.match_info["provider"], headers, await request.read()))
        if self.failures:
            self.failures -= 1
            return web.Response(status=500, text="receiver down")
        return web.Response(status=200)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def fake(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeProvider]:
    """A fake provider posting every provider's webhooks to the receiver, with the keys given
    on its command line; deferred deliveries reported at once."""
    workdir = tmp_path_factory.mktemp("webhooks")
    pem = workdir / "sendgrid.pem"
    pem.write_text(SENDGRID_KEY["private_key_pem"])
    urls = {
        "mailgun": receiver.url("mailgun"),
        "sendgrid": receiver.url("sendgrid"),
        "postmark": receiver.url("postmark", "hook:s3cret@"),
    }
    flags = ("--mailgun-signing-key", SIGNING_KEY, "--sendgrid-private-key", str(pem))
    running = FakeProvider(workdir, *flags, webhook_urls=urls)
    try:
        running.webhooks({"delay_seconds": 0})
        yield running
    finally:
        running.stop()


def _send(fake: FakeProvider, path: str, body: bytes, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(f"{fake.url}{path}", body, headers)
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.headers, reply.read()


def _wait_for_sent(fake: FakeProvider, message_id: str, count: int) -> list[dict[str, Any]]:
    """The fake provider's record of the webhooks about one email, once `count` are done."""

    def sent() -> list[dict[str, Any]]:
        return [s for s in fake.webhooks_sent()["sent"] if s["message_id"] == message_id]

    wait_for(lambda: len(sent()) >= count, 15, f"{count} webhooks about {message_id}")
    return sent()


def _by_recipient(events: list[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for recipient, kind in events:
        found.setdefault(recipient, []).append(kind)
    return found


@pytest.mark.slow
def test_mailgun_posts_one_signed_webhook_per_event(fake: FakeProvider, receiver: Receiver) -> None:
    """Mailgun's JSON webhooks, HMAC-signed, with v:postroom_id back in user-variables."""
    form = {
        "from": "shop@mg.example.org",
        "to": "bounce@simulator.example.com, Reader <open+mg@simulator.example.com>",
        "cc": "ann@example.org",
        "subject": "Your order",
        "text": "Thanks",
        "v:postroom_id": ID,
    }
    auth = "Basic " + base64.b64encode(b"api:key").decode()
    headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
    _, reply = _send(fake, "/v3/mg.example.org/messages", urlencode(form).encode(), headers)
    message_id = json.loads(reply)["id"]

    sent = _wait_for_sent(fake, message_id, 4)
    hooks = receiver.of("mailgun", message_id.strip("<>"))

    assert [s["status"] for s in sent] == [200] * 4
    assert len(hooks) == 4
    for hook in hooks:
        signature = hook.json()["signature"]
        signed = (signature["timestamp"] + signature["token"]).encode()
        expected = hmac.new(SIGNING_KEY.encode(), signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(signature["signature"], expected)
    data = [hook.json()["event-data"] for hook in hooks]
    assert {d["user-variables"]["postroom_id"] for d in data} == {ID}
    assert {d["message"]["headers"]["message-id"] for d in data} == {message_id.strip("<>")}
    assert _by_recipient([(d["recipient"], d["event"]) for d in data]) == {
        "bounce@simulator.example.com": ["failed"],
        "open+mg@simulator.example.com": ["delivered", "opened"],
        "ann@example.org": ["delivered"],
    }
    bounce = next(d for d in data if d["event"] == "failed")
    assert (bounce["severity"], bounce["reason"]) == ("permanent", "bounce")


@pytest.mark.slow
def test_sendgrid_posts_each_step_as_one_signed_array(
    fake: FakeProvider, receiver: Receiver
) -> None:
    """SendGrid's event arrays, ECDSA-signed, custom_args flattened into every event."""
    body = {
        "personalizations": [
            {
                "to": [{"email": "complaint@simulator.example.com"}],
                "cc": [{"email": "delay@simulator.example.com"}],
            }
        ],
        "from": {"email": "shop@example.org"},
        "subject": "Your order",
        "content": [{"type": "text/plain", "value": "Thanks"}],
        "custom_args": {"postroom_id": ID},
    }
    headers = {"Authorization": "Bearer SG.key", "Content-Type": "application/json"}
    reply_headers, _ = _send(fake, "/v3/mail/send", json.dumps(body).encode(), headers)
    message_id = reply_headers["X-Message-Id"]

    sent = _wait_for_sent(fake, message_id, 2)
    hooks = receiver.of("sendgrid", message_id)
    public = serialization.load_der_public_key(base64.b64decode(SENDGRID_KEY["public_key_b64_der"]))
    assert isinstance(public, ec.EllipticCurvePublicKey)

    assert [s["kinds"] for s in sent] == [["delivered", "deferred"], ["complaint", "delivered"]]
    assert len(hooks) == 2
    for hook in hooks:
        timestamp = hook.headers["x-twilio-email-event-webhook-timestamp"]
        signature = base64.b64decode(hook.headers["x-twilio-email-event-webhook-signature"])
        public.verify(signature, timestamp.encode() + hook.body, ec.ECDSA(hashes.SHA256()))
    events = [event for hook in hooks for event in hook.json()]
    assert {e["postroom_id"] for e in events} == {ID}
    assert {e["sg_message_id"].split(".")[0] for e in events} == {message_id}
    assert _by_recipient([(e["email"], e["event"]) for e in events]) == {
        "complaint@simulator.example.com": ["delivered", "spamreport"],
        "delay@simulator.example.com": ["deferred", "delivered"],
    }


@pytest.mark.slow
def test_postmark_posts_one_record_per_event_with_basic_auth(
    fake: FakeProvider, receiver: Receiver
) -> None:
    """Postmark's records, the hook URL's user:password as basic auth, Metadata carried back."""
    body = {
        "From": "shop@example.org",
        "To": "unsubscribe@simulator.example.com, softbounce@simulator.example.com",
        "Bcc": "click@simulator.example.com",
        "Subject": "Your order",
        "HtmlBody": '<a href="https://shop.example.org/offer">offer</a>',
        "Metadata": {"postroom_id": ID},
    }
    headers = {"X-Postmark-Server-Token": "token", "Content-Type": "application/json"}
    _, reply = _send(fake, "/email", json.dumps(body).encode(), headers)
    message_id = json.loads(reply)["MessageID"]

    _wait_for_sent(fake, message_id, 5)
    hooks = receiver.of("postmark", message_id)

    assert {hook.headers["authorization"] for hook in hooks} == {HOOK_AUTH}
    records = [hook.json() for hook in hooks]
    assert {r["MessageID"] for r in records} == {message_id}
    assert {r["Metadata"]["postroom_id"] for r in records} == {ID}
    recipients = [(r.get("Recipient") or r["Email"], r["RecordType"]) for r in records]
    assert _by_recipient(recipients) == {
        "unsubscribe@simulator.example.com": ["Delivery", "SubscriptionChange"],
        "softbounce@simulator.example.com": ["Bounce"],
        "click@simulator.example.com": ["Delivery", "Click"],
    }
    click = next(r for r in records if r["RecordType"] == "Click")
    assert click["OriginalLink"] == "https://shop.example.org/offer"


@pytest.mark.slow
def test_a_receiver_answering_500_gets_the_same_request_again(
    fake: FakeProvider, receiver: Receiver
) -> None:
    """A 5xx is retried with the very same bytes; the record shows both attempts."""
    receiver.failures = 1
    body = {
        "From": "shop@example.org",
        "To": "reject@simulator.example.com",
        "Subject": "Your order",
        "TextBody": "Thanks",
    }
    headers = {"X-Postmark-Server-Token": "token", "Content-Type": "application/json"}
    _, reply = _send(fake, "/email", json.dumps(body).encode(), headers)
    message_id = json.loads(reply)["MessageID"]

    [sent] = _wait_for_sent(fake, message_id, 1)
    first, retry = receiver.of("postmark", message_id)

    assert (sent["status"], sent["attempts"], sent["kinds"]) == (200, 2, ["reject"])
    assert first == retry
    assert (first.json()["RecordType"], first.json()["Type"]) == ("Bounce", "Blocked")


@pytest.mark.slow
def test_the_control_api_shows_and_refuses_settings(fake: FakeProvider) -> None:
    """GET shows the keys in use (the public half of SendGrid's); a bad change is a 400 and
    changes nothing."""
    with urllib.request.urlopen(f"{fake.url}/_sim/webhooks", timeout=10) as reply:
        shown = json.loads(reply.read())

    with pytest.raises(urllib.error.HTTPError) as refused:
        fake.webhooks({"urls": {"mailgun": ""}, "delay_seconds": -1})

    assert shown["mailgun_signing_key"] == SIGNING_KEY
    assert shown["sendgrid_public_key"] == SENDGRID_KEY["public_key_b64_der"]
    assert "sendgrid_private_key" not in shown
    assert refused.value.code == 400
    assert "delay_seconds" in json.loads(refused.value.read())["message"]
    assert fake.webhooks({})["urls"] == shown["urls"]


@pytest.mark.slow
def test_start_up_prints_the_url_options_to_paste(fake: FakeProvider) -> None:
    """The options Postroom's provider URLs need, with the Postmark password masked in the
    hook URL itself."""
    wait_for(lambda: "webhook_public_key=" in fake.log.read_text(), 10, "the start-up lines")
    text = fake.log.read_text()

    assert f"webhook_signing_key={SIGNING_KEY}" in text
    assert f"webhook_public_key={quote(SENDGRID_KEY['public_key_b64_der'], safe='')}" in text
    assert "webhook_user=hook&webhook_password=s3cret" in text
    assert "hook:***@127.0.0.1" in text


async def test_without_webhook_urls_nothing_is_posted(simulator: RunningSimulator) -> None:
    """The default: emails are taken and answered as before, and no report is started."""
    body = {
        "From": "shop@example.org",
        "To": "bounce@simulator.example.com",
        "Subject": "Your order",
        "TextBody": "Thanks",
    }
    headers = {"X-Postmark-Server-Token": "token"}
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{simulator.url}/email", json=body, headers=headers) as reply:
            assert reply.status == 200
        async with client.get(f"{simulator.url}/_sim/webhooks/sent") as reply:
            sent = await reply.json()

    assert sent == {"count": 0, "pending": 0, "sent": []}
    assert len(simulator.simulator.accepted) == 1
