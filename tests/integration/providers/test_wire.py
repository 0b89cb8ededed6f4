"""One MIME builder: the outbox file holds the bytes the SMTP provider puts on the wire."""

import email
import email.policy
import json
from pathlib import Path

from postroom.domain.message import Address, Attachment, Email
from postroom.ports.provider import Outgoing
from postroom.providers.outbox import OutboxProvider
from postroom.providers.smtp import SmtpProvider
from tests.integration.providers.conftest import StartSmtp

NOW = 1_800_000_000.0  # Fri, 15 Jan 2027 08:00:00 +0000
EMAIL_ID = "0190d5a3-0000-7000-8000-0000000000aa"


def pinned() -> float:
    return NOW


def international(to: str = "jörg@example.com") -> Outgoing:
    message = Email(
        sender=Address("shop@example.com", "Bücherei Müller"),
        to=(Address(to, "Jörg Ärger"),),
        cc=(Address("cc@bücher.example", "Zoë"),),
        bcc=(Address("hidden@example.org"),),
        subject="Ihre Bestellung, Grüße aus Köln",
        text="Hallo Jörg,\n\ndanke für die Bestellung.\n",
        html="<p>Hallo Jörg, danke für die Bestellung.</p>",
        headers=(("X-Campaign", "Frühling"),),
        attachments=(Attachment("Rechnung März.pdf", "application/pdf", b"%PDF-1.4 ..."),),
        tags=("receipt",),
        metadata=(("order", "42"),),
    )
    return Outgoing(EMAIL_ID, message, f"<{EMAIL_ID}@example.com>")


async def through_smtp(smtp_server: StartSmtp, outgoing: Outgoing) -> bytes:
    server = smtp_server(smtputf8=True)  # aiosmtpd offers 8BITMIME always
    provider = SmtpProvider.from_url(server.url())
    provider = SmtpProvider(provider.host, provider.port, tls="none", clock=pinned)
    try:
        await provider.send(outgoing)
    finally:
        await provider.close()
    [received] = server.handler.messages
    return received.data


async def through_outbox(folder: Path, outgoing: Outgoing) -> bytes:
    await OutboxProvider(folder, clock=pinned).send(outgoing)
    return (folder / f"{outgoing.id}.eml").read_bytes()


async def test_outbox_file_is_what_smtp_sends(smtp_server: StartSmtp, tmp_path: Path) -> None:
    """Same email, same Date: aiosmtpd receives exactly the bytes of the outbox .eml."""
    outgoing = international(to="joerg@example.com")
    wire = await through_smtp(smtp_server, outgoing)
    assert await through_outbox(tmp_path, outgoing) == wire
    # ASCII addresses: no SMTPUTF8 transaction, so headers are RFC 2047 encoded words.
    assert wire.isascii() is False  # the 8-bit text body
    head = wire.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"Subject: Ihre Bestellung, =?utf-8?b?R3LDvMOfZSBhdXMgS8O2bG4=?=\r\n" in head
    assert b"Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n" in head
    assert b"filename*=utf-8''Rechnung%20M%C3%A4rz.pdf" in wire
    assert b"hidden@example.org" not in wire
    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    assert parsed["Subject"] == "Ihre Bestellung, Grüße aus Köln"
    assert parsed["X-Campaign"] == "Frühling"
    [attachment] = list(parsed.iter_attachments())  # type: ignore[attr-defined]
    assert attachment.get_filename() == "Rechnung März.pdf"


async def test_smtputf8_email_is_identical_too(smtp_server: StartSmtp, tmp_path: Path) -> None:
    """A non-ASCII local part makes the message SMTPUTF8 (raw UTF-8 headers), in both."""
    outgoing = international()
    wire = await through_smtp(smtp_server, outgoing)
    assert await through_outbox(tmp_path, outgoing) == wire
    assert "To: Jörg Ärger <jörg@example.com>\r\n".encode() in wire


async def test_outbox_writes_the_envelope_beside_the_message(tmp_path: Path) -> None:
    """<id>.json holds the envelope sender, every recipient (bcc too), tags and metadata."""
    outgoing = international(to="joerg@example.com")
    await through_outbox(tmp_path, outgoing)
    side = json.loads((tmp_path / f"{EMAIL_ID}.json").read_text())
    assert side == {
        "id": EMAIL_ID,
        "messageId": outgoing.message_id,
        "sender": "shop@example.com",
        "recipients": ["joerg@example.com", "cc@xn--bcher-kva.example", "hidden@example.org"],
        "bcc": ["hidden@example.org"],
        "tags": ["receipt"],
        "metadata": {"order": "42"},
    }
    assert names(tmp_path) == [f"{EMAIL_ID}.eml", f"{EMAIL_ID}.json"]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_outbox_probe_says_whether_the_folder_takes_files(tmp_path: Path) -> None:
    """The outbox probe is ok for a writable folder and names the folder when it is not."""
    assert (await OutboxProvider(tmp_path / "new").probe()).ok
    blocker = tmp_path / "file"
    blocker.write_text("")
    probe = await OutboxProvider(blocker / "outbox").probe()
    assert (probe.ok, probe.error) == (False, "down")
    assert str(blocker) in probe.cause
