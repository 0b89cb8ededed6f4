"""SmtpProvider against a real SMTP server (aiosmtpd on 127.0.0.1)."""

import asyncio
import dataclasses
import email

import pytest

from postroom.domain.errors import (
    MisconfiguredError,
    PermanentError,
    ProviderDownError,
    ThrottledError,
)
from postroom.domain.message import Address, Email
from postroom.ports.provider import Outgoing
from postroom.providers.smtp import SmtpProvider
from tests.integration.providers.conftest import (
    Certificate,
    StartSmtp,
    check_full_message,
    free_port,
)


def plain(subject: str = "Hello", to: str = "to@example.com") -> Outgoing:
    email_ = Email(
        sender=Address("from@example.com"), to=(Address(to),), subject=subject, text="Hi"
    )
    return Outgoing("0190d5a3-0000-7000-8000-000000000001", email_, "<plain@mail.example.com>")


async def send(url: str, outgoing: Outgoing) -> None:
    provider = SmtpProvider.from_url(url)
    try:
        await provider.send(outgoing)
    finally:
        await provider.close()


# -- what the server receives


async def test_server_receives_envelope_and_every_field(
    smtp_server: StartSmtp, full_outgoing: Outgoing
) -> None:
    """The envelope holds to+cc+bcc, the message every field, Bcc only in the envelope."""
    server = smtp_server()
    provider = SmtpProvider.from_url(server.url())
    try:
        receipt = await provider.send(full_outgoing)
    finally:
        await provider.close()
    assert (receipt.provider, receipt.message_id) == ("smtp", full_outgoing.message_id)
    [received] = server.handler.messages
    assert received.mail_from == "sender@example.com"
    assert received.rcpt_tos == [
        "to1@example.com",
        "to2@example.com",
        "cc@example.com",
        "hidden@example.com",
    ]
    check_full_message(received.data, full_outgoing)


async def test_reuses_one_connection_for_consecutive_sends(smtp_server: StartSmtp) -> None:
    """Two sends in a row travel over one connection."""
    server = smtp_server()
    provider = SmtpProvider.from_url(server.url())
    try:
        await provider.send(plain("one"))
        await provider.send(plain("two"))
    finally:
        await provider.close()
    first, second = server.handler.messages
    assert first.peer == second.peer


async def test_replaces_a_kept_connection_the_server_closes(smtp_server: StartSmtp) -> None:
    """A kept connection answered with 421 is replaced and the email still goes out once."""
    server = smtp_server()
    server.handler.mail_reply_after_first = "421 4.7.0 Too many messages on this connection"
    provider = SmtpProvider.from_url(server.url())
    try:
        await provider.send(plain("one"))
        await provider.send(plain("two"))
    finally:
        await provider.close()
    first, second = server.handler.messages
    assert first.peer != second.peer
    subjects = [email.message_from_bytes(m.data)["Subject"] for m in server.handler.messages]
    assert subjects == ["one", "two"]


async def test_international_domain_goes_as_a_labels(smtp_server: StartSmtp) -> None:
    """A non-ASCII domain is sent in A-labels, in the envelope and in the headers."""
    server = smtp_server()
    await send(server.url(), plain(to="jan@příklad.example.cz"))
    [received] = server.handler.messages
    assert received.rcpt_tos == ["jan@xn--pklad-zsa96e.example.cz"]
    assert b"To: jan@xn--pklad-zsa96e.example.cz\r\n" in received.data


async def test_utf8_local_part_uses_smtputf8(smtp_server: StartSmtp) -> None:
    """A non-ASCII local part goes out with SMTPUTF8 when the server offers it."""
    server = smtp_server(smtputf8=True)
    await send(server.url(), plain(to="zoë@example.com"))
    [received] = server.handler.messages
    assert received.rcpt_tos == ["zoë@example.com"]
    assert "SMTPUTF8" in received.mail_options
    assert "zoë@example.com" in received.data.decode("utf-8")


async def test_utf8_local_part_without_smtputf8_is_permanent(smtp_server: StartSmtp) -> None:
    """A non-ASCII local part and a server without SMTPUTF8: PermanentError, nothing sent."""
    server = smtp_server(smtputf8=False)
    with pytest.raises(PermanentError) as caught:
        await send(server.url(), plain(to="zoë@example.com"))
    assert caught.value.code == "unsupported"
    assert server.handler.messages == []


# -- replies and failures


async def test_refused_recipient_is_permanent_and_nothing_is_sent(smtp_server: StartSmtp) -> None:
    """550 for one recipient: PermanentError with the server's text; no one gets the email."""
    server = smtp_server()
    server.handler.refuse["gone@example.com"] = "550 5.1.1 <gone@example.com>: no such user"
    outgoing = plain()
    outgoing = dataclasses.replace(
        outgoing,
        email=dataclasses.replace(outgoing.email, cc=(Address("gone@example.com"),)),
    )
    with pytest.raises(PermanentError) as caught:
        await send(server.url(), outgoing)
    assert caught.value.code == "smtp_550"
    assert "no such user" in caught.value.detail
    assert server.handler.messages == []


async def test_temporary_refusal_is_throttled(smtp_server: StartSmtp) -> None:
    """451 for a recipient: ThrottledError."""
    server = smtp_server()
    server.handler.refuse["to@example.com"] = "451 4.7.1 Greylisted, try again later"
    with pytest.raises(ThrottledError) as caught:
        await send(server.url(), plain())
    assert caught.value.code == "smtp_451"
    assert "Greylisted" in caught.value.detail


async def test_refused_message_is_permanent(smtp_server: StartSmtp) -> None:
    """554 after DATA: PermanentError with the server's text."""
    server = smtp_server()
    server.handler.data_reply = "554 5.7.1 Message rejected as spam"
    with pytest.raises(PermanentError) as caught:
        await send(server.url(), plain())
    assert caught.value.code == "smtp_554"
    assert "spam" in caught.value.detail


async def test_refused_greeting_is_misconfigured() -> None:
    """A 554 greeting refuses us, not the email: MisconfiguredError."""

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"554 5.7.1 No SMTP service for your address\r\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(MisconfiguredError) as caught:
            await send(f"smtp://127.0.0.1:{port}?tls=none", plain())
    finally:
        server.close()
        await server.wait_closed()
    assert caught.value.code == "smtp_554"


async def _accept_then_hang_up(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, messages: list[bytes]
) -> None:
    """A relay that answers 250 to the message, then closes the connection before any QUIT."""
    writer.write(b"220 relay ESMTP\r\n")
    while line := await reader.readline():
        verb = line[:4].upper()
        if verb == b"EHLO":
            writer.write(b"250-relay\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            writer.write(b"354 go ahead\r\n")
            await writer.drain()
            data = b""
            while (chunk := await reader.readline()) not in (b".\r\n", b""):
                data += chunk
            messages.append(data)
            writer.write(b"250 2.0.0 queued as 1\r\n")
            await writer.drain()
            break
        else:
            writer.write(b"250 ok\r\n")
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def test_250_then_a_dropped_connection_is_sent_once() -> None:
    """A 250 after DATA is a send even when the relay hangs up before QUIT; the next email
    goes over a new connection, and each message arrived once."""
    messages: list[bytes] = []
    server = await asyncio.start_server(
        lambda r, w: _accept_then_hang_up(r, w, messages), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    provider = SmtpProvider.from_url(f"smtp://127.0.0.1:{port}?tls=none")
    try:
        first = await provider.send(plain("First"))
        second = await provider.send(plain("Second"))
    finally:
        await provider.close()
        server.close()
        await server.wait_closed()
    assert (first.code, second.code) == ("smtp_250", "smtp_250")
    assert first.message_id == "<plain@mail.example.com>"
    assert [b"Subject: First" in m for m in messages] == [True, False]
    assert len(messages) == 2


async def test_header_injection_is_refused_unsent(smtp_server: StartSmtp) -> None:
    """CR/LF in a header value (validation's job) is refused here too: PermanentError."""
    server = smtp_server()
    outgoing = plain(subject="Hello\r\nBcc: victim@example.com")
    with pytest.raises(PermanentError) as caught:
        await send(server.url(), outgoing)
    assert caught.value.code == "invalid_message"
    assert server.handler.messages == []


async def test_wrong_password_is_misconfigured(smtp_server: StartSmtp) -> None:
    """535 on AUTH: MisconfiguredError, and the password is in neither code nor detail."""
    server = smtp_server(auth=True)
    with pytest.raises(MisconfiguredError) as caught:
        await send(server.url(auth=True, password="wrong-pw"), plain())
    assert caught.value.code == "smtp_535"
    assert "wrong-pw" not in caught.value.detail
    assert server.handler.messages == []


async def test_missing_credentials_are_misconfigured(
    smtp_server: StartSmtp, certificate: Certificate
) -> None:
    """A relay that requires AUTH and a URL without credentials: MisconfiguredError (530)."""
    server = smtp_server(auth=True, starttls=certificate.server_context())
    with pytest.raises(MisconfiguredError) as caught:
        await send(server.url(tls="starttls", ca_file=str(certificate.cert_file)), plain())
    assert caught.value.code == "smtp_530"


async def test_closed_port_is_provider_down() -> None:
    """Nothing listening: ProviderDownError."""
    with pytest.raises(ProviderDownError) as caught:
        await send(f"smtp://127.0.0.1:{free_port()}?tls=none&timeout=5", plain())
    assert caught.value.code == "connection"


async def test_auth_in_the_clear_when_the_relay_allows_it(smtp_server: StartSmtp) -> None:
    """tls=none with credentials logs in over plain SMTP (a relay on a private network)."""
    server = smtp_server(auth=True)
    await send(server.url(auth=True), plain())
    [received] = server.handler.messages
    assert received.authenticated
    assert not received.tls


# -- TLS


async def test_starttls_with_auth_and_a_private_ca(
    smtp_server: StartSmtp, certificate: Certificate
) -> None:
    """STARTTLS, verified against ca_file, then AUTH: the message arrives over TLS."""
    server = smtp_server(auth=True, starttls=certificate.server_context())
    url = server.url(tls="starttls", auth=True, ca_file=str(certificate.cert_file))
    await send(url, plain())
    [received] = server.handler.messages
    assert received.tls
    assert received.authenticated


async def test_implicit_tls(smtp_server: StartSmtp, certificate: Certificate) -> None:
    """tls=implicit speaks TLS from the first byte."""
    server = smtp_server(implicit=certificate.server_context())
    await send(server.url(tls="implicit", ca_file=str(certificate.cert_file)), plain())
    [received] = server.handler.messages
    assert received.tls


async def test_untrusted_certificate_is_misconfigured(
    smtp_server: StartSmtp, certificate: Certificate
) -> None:
    """A certificate the system does not trust: MisconfiguredError, nothing sent."""
    server = smtp_server(auth=True, starttls=certificate.server_context())
    with pytest.raises(MisconfiguredError) as caught:
        await send(server.url(tls="starttls", auth=True), plain())
    assert caught.value.code == "tls_certificate"
    assert server.handler.messages == []


async def test_starttls_required_but_not_offered_is_misconfigured(smtp_server: StartSmtp) -> None:
    """tls=starttls against a server without STARTTLS: MisconfiguredError, no plain fallback."""
    server = smtp_server()
    with pytest.raises(MisconfiguredError) as caught:
        await send(server.url(tls="starttls"), plain())
    assert caught.value.code == "smtp_setup"
    assert server.handler.messages == []


# -- URL


def test_url_defaults_follow_the_port() -> None:
    """587 means STARTTLS, 465 implicit TLS; without a port, the TLS mode picks it."""
    assert (SmtpProvider.from_url("smtp://relay.example.com").port, "starttls") == (587, "starttls")
    assert SmtpProvider.from_url("smtp://relay.example.com:465").tls == "implicit"
    assert SmtpProvider.from_url("smtp://relay.example.com?tls=implicit").port == 465
    assert SmtpProvider.from_url("smtp://relay.example.com:2525").tls == "starttls"
    assert SmtpProvider.from_url("smtp://relay.example.com?tls=none").port == 25


def test_url_credentials_are_decoded_and_hidden() -> None:
    """User and password are URL-decoded; the password shows in no repr."""
    provider = SmtpProvider.from_url("smtp://me%40example.com:p%40ss%2Fw@relay.example.com")
    assert provider.user == "me@example.com"
    assert "p@ss/w" not in repr(provider)
    assert "p%40ss" not in repr(provider)


@pytest.mark.parametrize(
    "url",
    [
        "smtp://",
        "smtp://user:s3cret-pw@relay.example.com?tls=maybe",
        "smtp://user:s3cret-pw@relay.example.com:99999",
        "smtp://user:s3cret-pw@relay.example.com:port",
        "smtp://user:s3cret-pw@relay.example.com?timeout=-1",
        "smtp://user:s3cret-pw@relay.example.com?colour=blue",
        "smtp://user:s3cret-pw@relay.example.com?ca_file=/nonexistent/ca.pem",
        "smtp://user@relay.example.com",
    ],
)
def test_bad_urls_are_refused_without_the_password(url: str) -> None:
    """A malformed URL is a ValueError whose text never holds the password."""
    with pytest.raises(ValueError, match="smtp") as caught:
        SmtpProvider.from_url(url)
    assert "s3cret" not in str(caught.value)
