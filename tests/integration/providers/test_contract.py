"""The provider contract: every provider, through its real adapter (opened by URL, as bootstrap
opens it) against its local server, delivers every part of an email and maps each way of
failing onto the error classes of docs/design.md.

The `target` fixture runs each test once per provider; targets.py says how each one's server is
reached, made to fail and read back. What a provider cannot express is skipped with its reason.
"""

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from postroom.domain.errors import ProviderError, UnsupportedError
from postroom.domain.message import Address, Attachment, Email
from postroom.ports.provider import Outgoing, Receipt
from postroom.providers import open_provider
from tests.integration.providers.conftest import PDF, PNG, StartSmtp
from tests.integration.providers.targets import (
    AMBIGUOUS,
    CORRELATION_HEADER,
    CORRELATION_KEY,
    FAILURES,
    OutboxTarget,
    Seen,
    SesTarget,
    SimulatorTarget,
    SmtpTarget,
    Target,
    digest,
)

PROVIDERS = ("mailgun", "sendgrid", "postmark", "ses", "smtp", "outbox")


@pytest.fixture(params=PROVIDERS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """Each provider in turn, with only the local server it needs started."""
    name = request.param
    if name in ("mailgun", "sendgrid", "postmark"):
        simulator = request.getfixturevalue("simulator")
        credentials = {"mailgun": "key-1@mg.example.com", "sendgrid": "SG.key-1"}
        credential = credentials.get(name, "server-token-1")
        yield SimulatorTarget(name, simulator, credential, 422 if name == "postmark" else 400)
    elif name == "ses":
        recorder = request.getfixturevalue("recorder")
        silent = request.getfixturevalue("silent_port")
        yield SesTarget(recorder, request.getfixturevalue("moto_server"), silent)
    elif name == "smtp":
        start: StartSmtp = request.getfixturevalue("smtp_server")
        yield SmtpTarget(start(auth=True), request.getfixturevalue("silent_port"))
    else:
        yield OutboxTarget(tmp_path / "outbox")


async def send(url: str, outgoing: Outgoing) -> Receipt:
    provider = open_provider(url)
    try:
        return await provider.send(outgoing)
    finally:
        await provider.close()


async def delivered(target: Target, outgoing: Outgoing) -> Seen:
    """Send through the real adapter; what the provider's server received."""
    receipt = await send(target.url(), outgoing)
    assert receipt.provider == target.name
    return target.received()


def skip_unless(target: Target, *features: str) -> None:
    for feature in features:
        if feature in target.cannot:
            pytest.skip(f"{target.name}: {target.cannot[feature]}")


def person(address: Address) -> tuple[str, str]:
    return (address.name, address.email)


# -- every part of an email arrives


async def test_names_cc_bcc_and_reply_to(target: Target, full_outgoing: Outgoing) -> None:
    """Sender, to, cc and reply-to arrive with their names; bcc addresses arrive too."""
    email = full_outgoing.email
    seen = await delivered(target, full_outgoing)
    assert seen.sender == person(email.sender)
    assert seen.to == [person(a) for a in email.to]
    assert seen.cc == [person(a) for a in email.cc]
    assert seen.bcc == [a.email for a in email.bcc]
    assert seen.reply_to == [person(a) for a in email.reply_to]


async def test_subject_text_and_html(target: Target, full_outgoing: Outgoing) -> None:
    """Subject, the text part and the HTML part arrive as written."""
    email = full_outgoing.email
    seen = await delivered(target, full_outgoing)
    assert seen.subject == email.subject
    assert seen.text.rstrip("\n") == email.text.rstrip("\n")
    assert seen.html.rstrip("\n") == email.html


async def test_custom_headers(target: Target, full_outgoing: Outgoing) -> None:
    """The email's own headers arrive with their values, beside our Message-ID."""
    seen = await delivered(target, full_outgoing)
    headers = {name.lower(): value for name, value in seen.headers.items()}
    for name, value in full_outgoing.email.headers:
        assert headers[name.lower()] == value
    assert headers["message-id"] == full_outgoing.message_id


async def test_attachments_and_inline_images(target: Target, full_outgoing: Outgoing) -> None:
    """A file arrives as an attachment, an inline image under its Content-ID, bytes intact."""
    seen = await delivered(target, full_outgoing)
    assert seen.attachments == [("receipt.pdf", "application/pdf", digest(PDF))]
    assert seen.inline == [("logo@postroom", "image/png", digest(PNG))]


async def test_tags_and_metadata(target: Target, full_outgoing: Outgoing) -> None:
    """Tags and metadata arrive in the provider's own fields, the user's all kept."""
    skip_unless(target, "tags", "metadata")
    seen = await delivered(target, full_outgoing)
    assert seen.tags == list(full_outgoing.email.tags)
    assert seen.metadata == dict(full_outgoing.email.metadata)


# -- the correlation id


async def test_correlation_id_travels_with_every_send(
    target: Target, full_outgoing: Outgoing
) -> None:
    """Postroom's email id arrives in the provider's custom data (or X-Postroom-Id)."""
    seen = await delivered(target, full_outgoing)
    assert seen.correlation_id == full_outgoing.id


async def test_correlation_id_beside_no_metadata(target: Target, full_outgoing: Outgoing) -> None:
    """An email without metadata or headers still carries the id, and nothing else is added."""
    bare = dataclasses.replace(full_outgoing.email, metadata=(), headers=(), tags=())
    seen = await delivered(target, dataclasses.replace(full_outgoing, email=bare))
    assert seen.correlation_id == full_outgoing.id
    assert seen.metadata == {}


async def test_a_user_field_named_like_the_id_is_refused_unsent(
    target: Target, full_outgoing: Outgoing
) -> None:
    """A metadata key (or header) named like the correlation field is refused, nothing sent."""
    email = full_outgoing.email
    if target.correlation_in == "metadata":
        clash = dataclasses.replace(email, metadata=(("Postroom_ID", "mine"),))
    else:
        clash = dataclasses.replace(email, headers=((CORRELATION_HEADER.lower(), "mine"),))
    with pytest.raises(UnsupportedError) as raised:
        await send(target.url(), dataclasses.replace(full_outgoing, email=clash))
    assert CORRELATION_KEY in raised.value.detail or CORRELATION_HEADER in raised.value.detail
    assert target.count() == 0


# -- non-ASCII everywhere


def international() -> Outgoing:
    email = Email(
        sender=Address("laden@example.com", "Bücherladen Zoë"),
        to=(Address("leser@bücher.example", "Jürgen Groß"),),
        cc=(Address("kopie@例え.jp", "山田 花子"),),
        bcc=(Address("blind@bücher.example"),),
        reply_to=(Address("antwort@bücher.example", "Kundendienst — Zoë"),),
        subject="Ihre Bestellung №42 — Grüße aus Köln 📚",
        text="Grüß Gott, Jürgen!\nIhr Buch „Faust“ ist unterwegs.\n",
        html="<p>Grüß Gott, <b>Jürgen</b>! 📚</p>",
        attachments=(Attachment("Rechnung März.pdf", "application/pdf", PDF),),
        tags=("bestellung",),
        metadata=(("stadt", "koeln"),),
    )
    return Outgoing("0190d5a3-5b1e-7c3a-9f00-00000000a11e", email, "<a11e@mail.example.com>")


async def test_non_ascii_names_subject_body_file_names_and_idn_domains(target: Target) -> None:
    """Non-ASCII names, subject, bodies, file names and IDN domains arrive intact."""
    outgoing = international()
    email = outgoing.email
    seen = await delivered(target, outgoing)
    assert (seen.sender, seen.to, seen.cc) == (
        person(email.sender),
        [person(a) for a in email.to],
        [person(a) for a in email.cc],
    )
    assert seen.bcc == ["blind@bücher.example"]
    assert seen.reply_to == [person(email.reply_to[0])]
    assert seen.subject == email.subject
    assert (seen.text.rstrip("\n"), seen.html.rstrip("\n")) == (email.text.rstrip("\n"), email.html)
    assert seen.attachments == [("Rechnung März.pdf", "application/pdf", digest(PDF))]


# -- each error class of docs/design.md


@pytest.mark.parametrize("kind", FAILURES)
async def test_each_way_of_failing_maps_to_its_error_class(
    target: Target, kind: str, full_outgoing: Outgoing
) -> None:
    """Each way of failing raises its class of docs/design.md (Retry-After kept); nothing taken."""
    skip_unless(target, kind)
    failure = target.fail(kind)
    with pytest.raises(ProviderError) as raised:
        await send(failure.url, full_outgoing)
    assert type(raised.value) is failure.error, raised.value
    if failure.code:
        assert raised.value.code == failure.code
    assert raised.value.retry_after == failure.retry_after
    assert target.count() == 0


# -- a 2xx that cannot be read is a send


@pytest.mark.parametrize("kind", AMBIGUOUS)
async def test_an_unreadable_2xx_is_sent_with_its_id_unknown(
    target: Target, kind: str, full_outgoing: Outgoing
) -> None:
    """Empty, garbage, or cut after the head: a receipt without an id, never a ProviderError
    (which would fail over and send the email twice); the server took it once."""
    skip_unless(target, "ambiguous", f"ambiguous-{kind}")
    target.answer_ambiguously(kind)
    receipt = await send(target.url(), full_outgoing)
    assert receipt == Receipt(target.name, "", "http_200_id_unknown")
    assert target.count() == 1
