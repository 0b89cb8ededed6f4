"""The simulator's magic recipients, and the webhook requests each simulated provider builds for
their events: shaped like the real ones in the conformance data, signed as a receiver checks."""

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from postroom.domain.magic import STORIES
from postroom.providers.webhooks import open_inbound
from postroom.providers.webhooks.base import WebhookRequest
from postroom.simulator.events import DOMAIN, KINDS, Kind, kinds_for
from postroom.simulator.webhooks import mailgun, postmark, sendgrid
from postroom.simulator.webhooks.base import Event, first_link, steps
from postroom.simulator.webhooks.sender import FORMATS
from postroom.simulator.webhooks.settings import WebhookSettings
from tests.conftest import conformance

AT = 1_800_000_000.25
ID = "0191b5e4-7c6a-7b3e-9c1d-2f4a5b6c7d8e"
TO = "someone@simulator.example.com"
LINK = "https://shop.example.org/offer"
# The conformance cases' fields the simulator does not write, and why.
NOT_SIMULATED = {
    # A URL to fetch the stored message from: the simulator keeps no message store.
    "mailgun": {"storage"},
    # django-anymail's own custom argument; the simulator's sends carry postroom_id instead.
    "sendgrid": {"anymail_id"},
    # The bounce dump (the simulator says DumpAvailable: false); `ServerId` is the spelling of
    # one anymail test, Postmark's own is ServerID.
    "postmark": {"Content", "ServerId"},
}
# Values whose contents are the sender's or the reader's, not the provider's format.
FREE_FORM = {"user-variables", "Metadata", "geolocation", "Geo"}
SENDGRID_KEY = conformance("webhooks.json")["sendgrid"]["generated_test_key"]


def _cases(provider: str) -> dict[str, dict[str, Any]]:
    return {case["id"]: case for case in conformance(f"events/{provider}.json")["cases"]}


def _settings() -> WebhookSettings:
    settings = WebhookSettings(mailgun_signing_key="TEST_WEBHOOK_SIGNING_KEY")
    settings.update({"sendgrid_private_key": SENDGRID_KEY["private_key_pem"]})
    return settings


def assert_shaped_like(ours: dict[str, Any], theirs: dict[str, Any], skip: set[str]) -> None:
    """Every field of the real event is in ours with the same JSON type, nested objects too."""
    for name, value in theirs.items():
        if name in skip:
            continue
        assert name in ours, f"missing {name!r}"
        assert type(ours[name]) is type(value), f"{name!r}: {ours[name]!r} vs {value!r}"
        if isinstance(value, dict) and name not in FREE_FORM:
            assert_shaped_like(ours[name], value, skip)


# -- the magic recipients ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recipient", "kinds"),
    [
        ("delivered@simulator.example.com", [Kind.DELIVERED]),
        ("bounce@simulator.example.com", [Kind.HARD_BOUNCE]),
        ("softbounce@simulator.example.com", [Kind.SOFT_BOUNCE]),
        ("complaint@simulator.example.com", [Kind.DELIVERED, Kind.COMPLAINT]),
        ("delay@simulator.example.com", [Kind.DEFERRED, Kind.DELIVERED]),
        ("unsubscribe@simulator.example.com", [Kind.DELIVERED, Kind.UNSUBSCRIBE]),
        ("open@simulator.example.com", [Kind.DELIVERED, Kind.OPEN]),
        ("click@simulator.example.com", [Kind.DELIVERED, Kind.CLICK]),
        ("reject@simulator.example.com", [Kind.REJECT]),
        ("bounce+signup-42@simulator.example.com", [Kind.HARD_BOUNCE]),
        ("Bounce@Simulator.Example.COM", [Kind.HARD_BOUNCE]),
        ("nobody@simulator.example.com", [Kind.DELIVERED]),
        ("bounce@example.org", [Kind.DELIVERED]),
        ("bounce@mx.simulator.example.com", [Kind.DELIVERED]),
        ("bounce@simulator.example.com.evil.example", [Kind.DELIVERED]),
    ],
)
def test_a_recipient_names_its_events(recipient: str, kinds: list[Kind]) -> None:
    """The local part before `+` picks the events on the magic domain only; else delivered."""
    assert kinds_for(recipient) == kinds


def test_every_story_of_the_domain_has_a_kind() -> None:
    """The simulated providers can tell every story the outbox tells, in the same order."""
    for word, told in STORIES.items():
        kinds = kinds_for(f"{word}@simulator.example.com")
        assert len(kinds) == len(told), word
        assert kinds == [KINDS[(event.type, event.bounce)] for event in told]


def test_the_magic_domain_passes_postroom_address_validation() -> None:
    """Postroom accepts the magic addresses on both of its validation paths."""
    from postroom.addresses.validator import parse_with_email_validator
    from postroom.domain.address import fast_mailbox

    for address in ("bounce@simulator.example.com", "click+a.b-1@simulator.example.com"):
        assert fast_mailbox(address) == address
        assert parse_with_email_validator(address).email == address


def test_steps_keep_each_recipient_in_order() -> None:
    """Step i holds every recipient's i-th event, so a recipient's events arrive in order."""
    plan = steps(["delay@simulator.example.com", "bounce@simulator.example.com", "ann@example.org"])

    assert plan == [
        [
            ("delay@simulator.example.com", Kind.DEFERRED),
            ("bounce@simulator.example.com", Kind.HARD_BOUNCE),
            ("ann@example.org", Kind.DELIVERED),
        ],
        [("delay@simulator.example.com", Kind.DELIVERED)],
    ]
    assert steps([]) == []


def test_a_click_goes_to_the_emails_first_link() -> None:
    """The first http(s) href of the HTML, else a link on the magic domain."""
    assert first_link(f"<p><a href=\"mailto:x@y\">m</a> <a class=x href='{LINK}'>go</a>") == LINK
    assert first_link("no links") == "https://simulator.example.com/"


# -- Mailgun ------------------------------------------------------------------------------

MAILGUN_SEND = {
    "from": ["Shop <shop@mg.example.org>"],
    "to": [f"Someone <{TO}>, ann@example.org"],
    "subject": ["Your order"],
    "html": [f'<a href="{LINK}">offer</a>'],
    "o:tag": ["orders"],
    "v:postroom_id": [ID],
}
MAILGUN_ID = "<sim-00000001@mg.example.org>"


@pytest.mark.parametrize(
    ("kind", "case_id", "same"),
    [
        (Kind.DELIVERED, "mailgun-01", ("event",)),
        (Kind.HARD_BOUNCE, "mailgun-02", ("event", "severity", "reason")),
        (Kind.SOFT_BOUNCE, "mailgun-03", ("event", "severity", "reason")),
        (Kind.DEFERRED, "mailgun-03", ("event", "severity", "reason")),
        (Kind.REJECT, "mailgun-04", ("event",)),
        (Kind.COMPLAINT, "mailgun-05", ("event",)),
        (Kind.UNSUBSCRIBE, "mailgun-06", ("event",)),
        (Kind.OPEN, "mailgun-07", ("event",)),
        (Kind.CLICK, "mailgun-08", ("event",)),
    ],
)
def test_mailgun_events_are_shaped_like_mailguns(
    kind: Kind, case_id: str, same: tuple[str, ...]
) -> None:
    """Each kind is the real Mailgun event it stands for, field by field."""
    case = json.loads(_cases("mailgun")[case_id]["body"])
    [post] = mailgun.build(MAILGUN_ID, MAILGUN_SEND, [Event(kind, TO, AT)], _settings())
    body = json.loads(post.body)

    assert set(body) == set(case)
    assert set(body["signature"]) == set(case["signature"])
    assert_shaped_like(body["event-data"], case["event-data"], NOT_SIMULATED["mailgun"])
    for name in same:
        assert body["event-data"][name] == case["event-data"][name]


def test_mailgun_events_carry_the_send_back() -> None:
    """The message id the send answered (brackets off), the v: variables, tags, the time."""
    events = [Event(Kind.DELIVERED, TO, AT), Event(Kind.CLICK, TO, AT + 1)]
    delivered, clicked = (
        json.loads(p.body) for p in mailgun.build(MAILGUN_ID, MAILGUN_SEND, events, _settings())
    )
    data = delivered["event-data"]

    assert data["message"]["headers"]["message-id"] == "sim-00000001@mg.example.org"
    assert data["user-variables"] == {"postroom_id": ID}
    assert data["tags"] == ["orders"]
    assert data["recipient"] == TO
    assert data["timestamp"] == AT
    assert delivered["signature"]["timestamp"] == str(int(AT))
    assert data["delivery-status"]["code"] == 250
    assert clicked["event-data"]["url"] == LINK
    assert clicked["signature"]["token"] != delivered["signature"]["token"]
    assert data["id"] != clicked["event-data"]["id"]


def test_mailgun_signature_verifies_with_the_signing_key() -> None:
    """hex HMAC-SHA256(key, timestamp + token), with a fresh 50-character token."""
    [post] = mailgun.build(MAILGUN_ID, MAILGUN_SEND, [Event(Kind.OPEN, TO, AT)], _settings())
    signature = json.loads(post.body)["signature"]
    message = (signature["timestamp"] + signature["token"]).encode()
    expected = hmac.new(b"TEST_WEBHOOK_SIGNING_KEY", message, hashlib.sha256).hexdigest()

    assert hmac.compare_digest(signature["signature"], expected)
    assert len(signature["token"]) == 50
    assert post.headers["Content-Type"] == "application/json"


def test_mailgun_recipients_are_every_to_cc_and_bcc() -> None:
    """Each field may repeat and hold several addresses, with names."""
    send = {"to": ["A <a@x.example>, b@x.example"], "cc": ["c@x.example"], "bcc": ["d@x.example"]}

    assert mailgun.recipients(send) == ["a@x.example", "b@x.example", "c@x.example", "d@x.example"]


# -- SendGrid -----------------------------------------------------------------------------

SENDGRID_SEND: dict[str, Any] = {
    "personalizations": [
        {"to": [{"email": TO, "name": "Someone"}], "cc": [{"email": "ann@example.org"}]},
        {"to": [{"email": "bob@example.org"}], "custom_args": {"batch": "b"}},
    ],
    "from": {"email": "shop@example.org"},
    "subject": "Your order",
    "content": [
        {"type": "text/plain", "value": "offer"},
        {"type": "text/html", "value": f'<a href="{LINK}">offer</a>'},
    ],
    "headers": {"Message-ID": "<0191b5e4@example.org>"},
    "categories": ["orders"],
    "custom_args": {"postroom_id": ID},
}


@pytest.mark.parametrize(
    ("kind", "case_id", "same"),
    [
        (Kind.DELIVERED, "sendgrid-02", ("event",)),
        (Kind.HARD_BOUNCE, "sendgrid-06", ("event", "type")),
        (Kind.SOFT_BOUNCE, "sendgrid-06", ("event",)),
        (Kind.DEFERRED, "sendgrid-07", ("event",)),
        (Kind.OPEN, "sendgrid-08", ("event",)),
        (Kind.CLICK, "sendgrid-09", ("event",)),
        (Kind.REJECT, "sendgrid-11", ("event",)),
    ],
)
def test_sendgrid_events_are_shaped_like_sendgrids(
    kind: Kind, case_id: str, same: tuple[str, ...]
) -> None:
    """Each kind is the real SendGrid event it stands for, field by field."""
    [case] = json.loads(_cases("sendgrid")[case_id]["body"])
    [post] = sendgrid.build("sim-1", SENDGRID_SEND, [Event(kind, TO, AT)], _settings())
    [event] = json.loads(post.body)

    assert_shaped_like(event, case, NOT_SIMULATED["sendgrid"])
    for name in same:
        assert event[name] == case[name]


def test_sendgrid_names_the_events_without_a_conformance_case() -> None:
    """SendGrid's words for what no case shows: a temporary bounce, a complaint, an unsubscribe."""
    events = [Event(k, TO, AT) for k in (Kind.SOFT_BOUNCE, Kind.COMPLAINT, Kind.UNSUBSCRIBE)]
    [post] = sendgrid.build("sim-1", SENDGRID_SEND, events, _settings())
    soft, complaint, unsubscribe = json.loads(post.body)

    # "blocked" is SendGrid's temporary bounce type (django-anymail: a soft bounce).
    assert (soft["event"], soft["type"]) == ("bounce", "blocked")
    assert complaint["event"] == "spamreport"
    assert unsubscribe["event"] == "unsubscribe"


def test_sendgrid_batches_a_step_and_carries_the_send_back() -> None:
    """One array per step; each event has its recipient's custom args, categories, the
    message id the send answered before the first dot, and the Message-ID as smtp-id."""
    events = [Event(Kind.CLICK, TO, AT), Event(Kind.DELIVERED, "bob@example.org", AT)]
    [post] = sendgrid.build("sim-00000007", SENDGRID_SEND, events, _settings())
    clicked, delivered = json.loads(post.body)

    assert post.body.endswith(b"]\r\n")
    assert clicked["postroom_id"] == delivered["postroom_id"] == ID
    assert "batch" not in clicked
    assert delivered["batch"] == "b"
    assert clicked["sg_message_id"].split(".")[0] == "sim-00000007"
    assert clicked["sg_message_id"] != delivered["sg_message_id"]
    assert clicked["sg_event_id"] != delivered["sg_event_id"]
    assert clicked["smtp-id"] == "<0191b5e4@example.org>"
    assert clicked["category"] == ["orders"]
    assert clicked["url"] == LINK
    assert (clicked["email"], clicked["timestamp"]) == (TO, int(AT))


def test_sendgrid_signature_verifies_with_the_public_key() -> None:
    """ECDSA P-256/SHA-256 over timestamp + body, checked with the base64 DER public key."""
    settings = _settings()
    [post] = sendgrid.build("sim-1", SENDGRID_SEND, [Event(Kind.OPEN, TO, AT)], settings)
    timestamp = post.headers["X-Twilio-Email-Event-Webhook-Timestamp"]
    signature = base64.b64decode(post.headers["X-Twilio-Email-Event-Webhook-Signature"])
    public = serialization.load_der_public_key(base64.b64decode(settings.sendgrid_public_key))
    assert isinstance(public, ec.EllipticCurvePublicKey)

    public.verify(signature, timestamp.encode() + post.body, ec.ECDSA(hashes.SHA256()))
    assert timestamp == str(int(AT))
    assert settings.sendgrid_public_key == SENDGRID_KEY["public_key_b64_der"]


def test_sendgrid_recipients_are_every_personalizations() -> None:
    """to, cc and bcc of each personalization, in order."""
    assert sendgrid.recipients(SENDGRID_SEND) == [TO, "ann@example.org", "bob@example.org"]


# -- Postmark -----------------------------------------------------------------------------

POSTMARK_SEND = {
    "From": "Shop <shop@example.org>",
    "To": f"Someone <{TO}>",
    "Cc": "ann@example.org",
    "Subject": "Your order",
    "HtmlBody": f'<a href="{LINK}">offer</a>',
    "Tag": "orders",
    "Metadata": {"postroom_id": ID},
}


@pytest.mark.parametrize(
    ("kind", "case_id", "same"),
    [
        (Kind.DELIVERED, "postmark-02", ("RecordType",)),
        (Kind.HARD_BOUNCE, "postmark-01", ("RecordType", "Type", "TypeCode", "Inactive")),
        (Kind.SOFT_BOUNCE, "postmark-10", ("RecordType", "Type", "TypeCode", "Inactive")),
        (Kind.DEFERRED, "postmark-10", ("RecordType",)),
        (Kind.REJECT, "postmark-10", ("RecordType",)),
        (Kind.COMPLAINT, "postmark-05", ("RecordType", "Type", "CanActivate")),
        (Kind.UNSUBSCRIBE, "postmark-06", ("RecordType", "SuppressSending", "SuppressionReason")),
        (Kind.OPEN, "postmark-03", ("RecordType", "FirstOpen")),
        (Kind.CLICK, "postmark-04", ("RecordType", "ClickLocation")),
    ],
)
def test_postmark_records_are_shaped_like_postmarks(
    kind: Kind, case_id: str, same: tuple[str, ...]
) -> None:
    """Each kind is the real Postmark record it stands for, field by field."""
    case = json.loads(_cases("postmark")[case_id]["body"])
    [post] = postmark.build("sim-1", POSTMARK_SEND, [Event(kind, TO, AT)], _settings())
    record = json.loads(post.body)

    assert_shaped_like(record, case, NOT_SIMULATED["postmark"])
    for name in same:
        assert record[name] == case[name]


def test_postmark_records_carry_the_send_back() -> None:
    """MessageID as the send answered it, the send's Metadata and Tag, the time as ISO 8601;
    bounce-shaped records name the address `Email` and have a numeric ID."""
    events = [Event(Kind.DELIVERED, TO, AT), Event(Kind.DEFERRED, TO, AT)]
    delivered, delayed = (
        json.loads(p.body) for p in postmark.build("sim-9", POSTMARK_SEND, events, _settings())
    )

    assert delivered["MessageID"] == delayed["MessageID"] == "sim-9"
    assert delivered["Metadata"] == delayed["Metadata"] == {"postroom_id": ID}
    assert delivered["Tag"] == "orders"
    assert delivered["Recipient"] == delayed["Email"] == TO
    assert datetime.fromisoformat(delivered["DeliveredAt"]).timestamp() == AT
    # A Transient bounce: django-anymail reads it as deferred.
    assert (delayed["RecordType"], delayed["Type"]) == ("Bounce", "Transient")
    assert isinstance(delayed["ID"], int)
    assert delayed["From"] == "shop@example.org"


def test_postmark_recipients_are_to_cc_and_bcc() -> None:
    """Comma-separated fields, names dropped."""
    assert postmark.recipients(POSTMARK_SEND) == [TO, "ann@example.org"]


# -- settings -----------------------------------------------------------------------------


def test_settings_change_all_or_nothing() -> None:
    """A bad setting refuses the whole change; "" removes a provider's URL."""
    settings = WebhookSettings()
    settings.update({"urls": {"mailgun": "http://127.0.0.1:1/mg"}, "delay_seconds": 0})
    key = settings.sendgrid_public_key

    for bad in (
        {"urls": {"mailgun": ""}, "delay_seconds": -1},
        {"urls": {"ses": "http://127.0.0.1:1/"}},
        {"urls": {"postmark": "ftp://127.0.0.1/"}},
        {"sendgrid_private_key": "not a key"},
        {"mailgun_signing_key": ""},
        {"colour": "blue"},
    ):
        with pytest.raises(ValueError, match=r"\w"):
            settings.update(bad)
    assert settings.urls == {"mailgun": "http://127.0.0.1:1/mg"}
    assert settings.sendgrid_public_key == key

    settings.update({"urls": {"mailgun": ""}})
    assert settings.urls == {}


def test_a_sendgrid_key_on_another_curve_is_refused() -> None:
    """SendGrid signs with P-256 only."""
    other = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )

    with pytest.raises(ValueError, match="P-256"):
        WebhookSettings().update({"sendgrid_private_key": other.decode()})


def test_url_options_are_ready_to_paste() -> None:
    """Postroom's provider URL options, the SendGrid key percent-encoded, Postmark's basic
    auth taken from its hook URL."""
    settings = _settings()
    settings.update({"urls": {"postmark": "http://hook:s%40cret@127.0.0.1:8080/webhooks/pm"}})
    options = settings.url_options()
    public = SENDGRID_KEY["public_key_b64_der"]

    assert options["mailgun"] == "webhook_signing_key=TEST_WEBHOOK_SIGNING_KEY"
    name, _, value = options["sendgrid"].partition("=")
    assert (name, unquote(value)) == ("webhook_public_key", public)
    # The key holds "+", "/" and "=", which a query would misread.
    assert not set("+/=") & set(value)
    assert options["postmark"] == "webhook_user=hook&webhook_password=s%40cret"


# -- read back by Postroom ----------------------------------------------------------------

# Where a provider has no word for the domain's story: Mailgun reports a soft bounce as a
# temporary failure, which receivers read as deferred (django-anymail too, mailgun-03).
REPORTED_AS = {("mailgun", "softbounce"): ["deferred"]}
SENDING_URLS = {
    "mailgun": "mailgun://key@mg.example.org",
    "sendgrid": "sendgrid://SG.key",
    "postmark": "postmark://token",
}
STORY_SENDS: dict[str, tuple[str, dict[str, Any]]] = {
    "mailgun": (MAILGUN_ID, {**MAILGUN_SEND, "to": [", ".join(f"{w}@{DOMAIN}" for w in STORIES)]}),
    "sendgrid": (
        "sim-2",
        {
            **SENDGRID_SEND,
            "personalizations": [{"to": [{"email": f"{w}@{DOMAIN}"} for w in STORIES]}],
        },
    ),
    "postmark": ("sim-3", {**POSTMARK_SEND, "To": ", ".join(f"{w}@{DOMAIN}" for w in STORIES)}),
}


@pytest.mark.parametrize("provider", ["mailgun", "sendgrid", "postmark"])
async def test_postroom_reads_every_story_back(provider: str) -> None:
    """Postroom's own webhook endpoints take what each simulated provider posts, signed with
    the URL options the fake provider prints, as each magic recipient's story, carrying the
    correlation id and the id the send answered."""
    settings = _settings()
    settings.update({"urls": {"postmark": "http://hook:s3cret@127.0.0.1:1/webhooks/postmark"}})
    inbound = open_inbound(f"{SENDING_URLS[provider]}?{settings.url_options()[provider]}")
    assert inbound is not None
    basic = {"authorization": "Basic " + base64.b64encode(b"hook:s3cret").decode()}
    message_id, send = STORY_SENDS[provider]
    form = FORMATS[provider]
    told: dict[str | None, list[str]] = {}

    for step in steps(form.recipients(send)):
        events = [Event(kind, recipient, time.time()) for recipient, kind in step]
        for post in form.build(message_id, send, events, settings):
            headers = {name.lower(): value for name, value in post.headers.items()} | basic
            received = await inbound.receive(WebhookRequest(headers, post.body, time.time()))
            for event in received.events:
                assert event.correlation_id == ID
                assert event.provider_message_id == message_id.strip("<>")
                told.setdefault(event.recipient, []).append(event.type.value)
    await inbound.close()

    for word, story in STORIES.items():
        expected = REPORTED_AS.get((provider, word), [e.type.value for e in story])
        assert told[f"{word}@{DOMAIN}"] == expected, word
