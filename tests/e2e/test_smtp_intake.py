"""SMTP submission into a real `postroom serve`, with clients no one here wrote: smtplib,
Django's SMTP backend and swaks. What the outbox received is what the client sent."""

import os
import re
import shutil
import smtplib
import ssl
import subprocess
from collections.abc import Iterator
from email import policy
from pathlib import Path

import pytest

from tests.support.http import request
from tests.support.moto import service_missing
from tests.support.processes import wait_for
from tests.support.server import free_port, run_cli, server
from tests.support.smtp import (
    Running,
    SmtpOnly,
    body,
    connected,
    create_key,
    greeted,
    sample_message,
    send,
)
from tests.support.tls import self_signed

pytestmark = pytest.mark.slow

QUEUED = re.compile(r"2\.0\.0 Ok: queued as ([0-9a-f-]{36})")
SMALL_BODY_BYTES = 200_000


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """`postroom serve` with API keys on, plain SMTP on a free port (AUTH is allowed from
    loopback), the outbox provider, and a small body limit so SIZE can be tested."""
    workdir = tmp_path_factory.mktemp("smtp")
    smtp_port = free_port()
    env = {
        "POSTROOM_INSECURE_NO_AUTH": "false",
        "POSTROOM_SMTP_PORT": str(smtp_port),
        "POSTROOM_MAX_BODY_BYTES": str(SMALL_BODY_BYTES),
        "POSTROOM_RATE_LIMIT": "0",
        "POSTROOM_LOG_LEVEL": "debug",
    }
    serve = server(workdir, env)
    token = create_key({**os.environ, **serve.env}, "smtp-tests")
    serve.start()
    yield Running(serve, smtp_port, token)
    serve.stop()


def test_auth_plain_message_is_queued_with_its_id_and_delivered_intact(smtp: Running) -> None:
    """AUTH PLAIN, then 250 names the Postroom id; the status API knows it and the outbox got
    the subject, display names, both parts and the Bcc recipient in the envelope only."""
    client = smtp.connect()
    message = sample_message("Order 1001 confirmed")
    code, text = send(client, message, ["ann@example.org", "hidden@example.org"])
    client.quit()
    assert code == 250
    found = QUEUED.search(text)
    assert found, text
    email_id = found.group(1)
    assert smtp.status(email_id)["id"] == email_id
    received = smtp.received(email_id)
    assert received["Subject"] == "Order 1001 confirmed"
    assert str(received["From"]) == "Shop Ltd <shop@example.com>"
    assert str(received["To"]) == "Ann Lee <ann@example.org>"
    assert received["Bcc"] is None
    assert body(received, "plain") == "Plain words\n"
    assert body(received, "html") == "<p>Rich words</p>\n"
    envelope = (smtp.serve.workdir / "outbox" / f"{email_id}.json").read_text()
    assert "hidden@example.org" in envelope


def test_auth_login_works_too(smtp: Running) -> None:
    """AUTH LOGIN with any user name and the API key as the password."""
    client = smtplib.SMTP("127.0.0.1", smtp.smtp_port, timeout=30)
    client.ehlo()
    client.user, client.password = "whoever", smtp.key
    code, _ = client.auth("LOGIN", client.auth_login)
    assert code == 235
    code, text = send(client, sample_message("Via LOGIN"), ["ann@example.org"])
    client.quit()
    assert code == 250
    assert QUEUED.search(text)


def test_wrong_and_revoked_keys_are_refused(smtp: Running) -> None:
    """A wrong key and, within the key cache's two seconds, a revoked one get 535 5.7.8."""
    client = smtp.connect(login=False)
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        client.login("any", "pr_" + "x" * 43)
    assert refused.value.smtp_code == 535
    assert b"5.7.8" in refused.value.smtp_error
    client.quit()
    env = {**os.environ, **smtp.serve.env}
    doomed = create_key(env, "doomed")
    with smtp.connect(login=False) as working:
        assert working.login("any", doomed)[0] == 235  # while the key is in use
    assert run_cli("keys", "revoke", doomed[:10], env=env).returncode == 0

    def refused_now() -> bool:
        attempt = smtp.connect(login=False)
        try:
            attempt.login("any", doomed)
        except smtplib.SMTPAuthenticationError as error:
            return error.smtp_code == 535
        finally:
            attempt.close()
        return False

    wait_for(refused_now, 10, "the revoked key to be refused")


def test_unauthenticated_relay_is_refused(smtp: Running) -> None:
    """MAIL FROM without AUTH is 530 5.7.0: nothing is relayed for an unknown client."""
    client = smtp.connect(login=False)
    code, text = client.mail("shop@example.com")
    client.quit()
    assert (code, text) == (530, b"5.7.0 Authentication required")


def test_size_is_advertised_and_enforced(smtp: Running) -> None:
    """EHLO advertises the API's body limit; a larger SIZE or message is 552 5.3.4."""
    client = smtp.connect()
    assert client.esmtp_features["size"] == str(SMALL_BODY_BYTES)
    code, _ = client.mail("shop@example.com", [f"SIZE={SMALL_BODY_BYTES + 1}"])
    assert code == 552
    client.rset()
    big = sample_message("Too big")
    big.add_attachment(os.urandom(SMALL_BODY_BYTES), maintype="application", subtype="zip")
    assert client.mail("shop@example.com")[0] == 250
    assert client.rcpt("ann@example.org")[0] == 250
    code, text = client.data(big.as_bytes(policy=policy.SMTP))
    assert (code, text) == (552, b"5.3.4 Message too large")
    code, text = send(client, sample_message("Small after big"), ["ann@example.org"])
    client.quit()
    assert code == 250, "the session goes on after a refused message"


def test_too_many_recipients_are_refused_at_rcpt(smtp: Running) -> None:
    """Past 1,000 recipients RCPT TO is 452 4.5.3; the first 1,000 were taken."""
    client = smtp.connect()
    assert client.mail("shop@example.com")[0] == 250
    for n in range(1000):
        assert client.rcpt(f"r{n}@example.org")[0] == 250
    code, text = client.rcpt("one-more@example.org")
    client.quit()
    assert code == 452
    assert text.startswith(b"4.5.3")


def test_invalid_and_suppressed_recipients_are_refused_at_rcpt(smtp: Running) -> None:
    """A reserved domain is 550 5.1.1; an address on the suppression list 550 5.7.1; the
    message still goes to the others."""
    added = request(
        "POST",
        f"{smtp.serve.url}/api/v1/suppressions",
        {"address": "bounced@example.org", "reason": "hard_bounce"},
        headers={"Authorization": f"Bearer {smtp.key}"},
    )
    assert added.status == 201, added.body
    client = smtp.connect()
    assert client.mail("shop@example.com")[0] == 250
    code, text = client.rcpt("someone@example.test")
    assert (code, text[:5]) == (550, b"5.1.1")
    code, text = client.rcpt("bounced@example.org")
    assert (code, text[:5]) == (550, b"5.7.1")
    assert client.rcpt("ann@example.org")[0] == 250
    code, text = client.data(sample_message("Some refused").as_bytes(policy=policy.SMTP))
    client.quit()
    assert code == 250
    found = QUEUED.search(text.decode())
    assert found
    smtp.received(found.group(1))
    envelope = (smtp.serve.workdir / "outbox" / f"{found.group(1)}.json").read_text()
    assert "bounced@example.org" not in envelope


def test_invalid_message_gets_a_clear_554_and_the_session_goes_on(smtp: Running) -> None:
    """A message the API would refuse is 554 5.6.0 naming the fields; no crash, no hang."""
    client = smtp.connect()
    assert client.mail("shop@example.com")[0] == 250
    assert client.rcpt("ann@example.org")[0] == 250
    raw = b"From: a@example.com, b@example.com\r\nTo: ann@example.org\r\n\r\nx\r\n"
    code, text = client.data(raw)
    assert code == 554
    assert b"5.6.0" in text
    assert b"more than one address" in text
    bad_header = sample_message("Bad header")
    bad_header["X-Long"] = "v" * 1200
    assert client.mail("shop@example.com")[0] == 250
    assert client.rcpt("ann@example.org")[0] == 250
    code, text = client.data(bad_header.as_bytes(policy=policy.SMTP))
    assert code == 554
    assert b"headers.X-Long" in text
    assert client.noop()[0] == 250
    client.quit()


def test_resend_of_the_same_message_id_is_recorded_once(smtp: Running) -> None:
    """A client that resends after a dropped connection (same Message-ID) gets the same id,
    and the email is stored and sent once."""
    message = sample_message("Sent twice, stored once")
    message["Message-ID"] = "<retry-42@shop.example.com>"
    replies = []
    for _ in range(2):
        client = smtp.connect()
        replies.append(send(client, message, ["ann@example.org"]))
        client.close()  # no QUIT: the connection just drops
    ids = {QUEUED.search(text).group(1) for _, text in replies}  # type: ignore[union-attr]
    assert [code for code, _ in replies] == [250, 250]
    assert len(ids) == 1
    smtp.received(ids.pop())
    assert len(smtp.received_with_subject("Sent twice, stored once")) == 1


def test_django_smtp_backend_delivers_byte_faithfully(smtp: Running) -> None:
    """Django's EmailMultiAlternatives with names, a non-ASCII subject, HTML and a binary
    attachment arrives with each of them intact."""
    django_settings = pytest.importorskip("django.conf").settings
    from django.core import mail

    if not django_settings.configured:
        django_settings.configure(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=smtp.smtp_port,
            EMAIL_HOST_USER="django-app",
            EMAIL_HOST_PASSWORD=smtp.key,
        )
    attachment = os.urandom(3000)
    subject = "Réservation confirmée ✓ (django)"
    sent = mail.EmailMultiAlternatives(
        subject,
        "Bonjour Zoë\n",
        "Hôtel Étoile <hotel@example.com>",
        ["Zoë Brontë <zoe@example.org>"],
        connection=mail.get_connection(
            host="127.0.0.1",
            port=smtp.smtp_port,
            username="django-app",
            password=smtp.key,
        ),
    )
    sent.attach_alternative("<p>Bonjour <b>Zoë</b></p>", "text/html")
    sent.attach("reçu.bin", attachment, "application/octet-stream")
    assert sent.send() == 1
    wait_for(lambda: bool(smtp.received_with_subject(subject)), 30, "Django's email")
    (received,) = smtp.received_with_subject(subject)
    assert received["From"].addresses[0].display_name == "Hôtel Étoile"
    assert received["To"].addresses[0].display_name == "Zoë Brontë"
    assert body(received, "plain") == "Bonjour Zoë\n"
    assert body(received, "html").strip() == "<p>Bonjour <b>Zoë</b></p>"
    (part,) = list(received.iter_attachments())
    assert part.get_filename() == "reçu.bin"
    assert part.get_content() == attachment


def test_swaks_sends_with_an_attachment(smtp: Running, tmp_path: Path) -> None:
    """swaks (Debian's package) with AUTH PLAIN and an attached file: 250 with the id, and
    the file arrives byte for byte."""
    swaks = shutil.which("swaks")
    if swaks is None:
        service_missing("swaks")
    attachment = tmp_path / "report.pdf"
    attachment.write_bytes(os.urandom(5000))
    result = subprocess.run(
        [
            str(swaks),
            *("--server", f"127.0.0.1:{smtp.smtp_port}"),
            *("--auth", "PLAIN", "--auth-user", "swaks", "--auth-password", smtp.key),
            *("--from", "ops@example.com", "--to", "ann@example.org"),
            *("--header", "Subject: Nightly report (swaks)"),
            *("--body", "Report attached."),
            *("--attach-type", "application/pdf", "--attach", f"@{attachment}"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    found = QUEUED.search(result.stdout)
    assert found, result.stdout
    received = smtp.received(found.group(1))
    assert received["Subject"] == "Nightly report (swaks)"
    (part,) = list(received.iter_attachments())
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == attachment.read_bytes()


def test_starttls_and_implicit_tls_with_a_self_signed_certificate(tmp_path: Path) -> None:
    """`postroom smtp` with a certificate: STARTTLS on the submission port and TLS from the
    first byte on the TLS port, each verified against the certificate, then AUTH and 250."""
    cert, key_file = self_signed(tmp_path)
    tls_port = free_port()
    env = {
        "POSTROOM_TLS_CERT": str(cert),
        "POSTROOM_TLS_KEY": str(key_file),
        "POSTROOM_SMTP_TLS_PORT": str(tls_port),
    }
    token = create_key(
        {**os.environ, "POSTROOM_DATABASE_URL": f"sqlite:///{tmp_path}/postroom.db"}, "tls"
    )
    running = SmtpOnly(tmp_path, env)
    running.start(running.port, tls_port)
    context = ssl.create_default_context(cafile=str(cert))
    try:
        plain = smtplib.SMTP("127.0.0.1", running.port, timeout=30)
        plain.ehlo()
        assert "starttls" in plain.esmtp_features
        assert plain.starttls(context=context)[0] == 220
        plain.ehlo()
        plain.login("any", token)
        code, text = send(plain, sample_message("Over STARTTLS"), ["ann@example.org"])
        plain.quit()
        assert code == 250
        assert QUEUED.search(text)
        implicit = smtplib.SMTP_SSL("127.0.0.1", tls_port, timeout=30, context=context)
        implicit.ehlo()
        implicit.login("any", token)
        code, text = send(implicit, sample_message("Over implicit TLS"), ["ann@example.org"])
        implicit.quit()
        assert code == 250
        assert QUEUED.search(text)
    finally:
        assert running.stop() == 0
    assert "Traceback" not in running.log.read_text()


def test_storage_down_is_451_never_a_lost_250(tmp_path: Path) -> None:
    """With the store gone after start-up, DATA is answered 451 4.3.0: the client keeps the
    message and retries."""
    (tmp_path / "data").mkdir()
    env = {
        "POSTROOM_DATABASE_URL": f"sqlite:///{tmp_path}/data/postroom.db",
        "POSTROOM_INSECURE_NO_AUTH": "true",
    }
    running = SmtpOnly(tmp_path, env).start()
    shutil.rmtree(tmp_path / "data")  # checked at start-up, opened at the first message
    try:
        client = smtplib.SMTP("127.0.0.1", running.port, timeout=30)
        client.ehlo()
        assert client.mail("shop@example.com")[0] == 250
        assert client.rcpt("ann@example.org")[0] == 250
        code, text = client.data(sample_message("Lost?").as_bytes(policy=policy.SMTP))
        client.quit()
    finally:
        running.stop()
    assert (code, text[:5]) == (451, b"4.3.0")


def test_connections_per_client_are_capped(tmp_path: Path) -> None:
    """Past POSTROOM_MAX_CONNECTIONS_PER_CLIENT a new connection is greeted 421 4.7.0."""
    env = {"POSTROOM_INSECURE_NO_AUTH": "true", "POSTROOM_MAX_CONNECTIONS_PER_CLIENT": "2"}
    running = SmtpOnly(tmp_path, env).start()
    try:
        held: list[smtplib.SMTP] = []

        def hold_two() -> bool:
            # The start-up probe's connection may not be released yet: retry, bounded.
            client = connected(running.port)
            if client is not None:
                held.append(client)
            return len(held) == 2

        wait_for(hold_two, 10, "two connections")
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP("127.0.0.1", running.port, timeout=30)
        assert refused.value.smtp_code == 421
        held.pop().quit()
        wait_for(lambda: greeted(running.port), 10, "a freed slot")
        for client in held:
            client.quit()
    finally:
        running.stop()


def test_smtp_without_a_port_says_which_variable(tmp_path: Path) -> None:
    """`postroom smtp` with no port configured stops with one line naming the variable."""
    result = run_cli("smtp", env={"POSTROOM_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "postroom: error: POSTROOM_SMTP_PORT: postroom smtp needs a port to listen on"
    ]


def _outward_address() -> str | None:
    """This machine's address on its first non-loopback interface, if it has one."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_from_a_non_loopback_address_auth_needs_tls(tmp_path: Path) -> None:
    """A client on the network (not loopback) is not offered AUTH on a plain connection and is
    refused if it tries; after STARTTLS it logs in and sends."""
    outward = _outward_address()
    if outward is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    cert, key_file = self_signed(tmp_path)
    env = {
        "POSTROOM_HOST": "0.0.0.0",  # every interface: the test needs a non-loopback peer
        "POSTROOM_TLS_CERT": str(cert),
        "POSTROOM_TLS_KEY": str(key_file),
    }
    token = create_key(
        {**os.environ, "POSTROOM_DATABASE_URL": f"sqlite:///{tmp_path}/postroom.db"}, "lan"
    )
    running = SmtpOnly(tmp_path, env).start()
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False  # the certificate names 127.0.0.1, not this interface
    try:
        client = smtplib.SMTP(outward, running.port, timeout=30)
        client.ehlo()
        assert "auth" not in client.esmtp_features
        code, reply = client.docmd("AUTH", "PLAIN " + _plain(token))
        assert code == 538, reply  # RFC 4954: encryption required for this mechanism
        assert b"5.7.11" in reply
        assert client.starttls(context=context)[0] == 220
        client.ehlo()
        assert "auth" in client.esmtp_features
        client.login("any", token)
        code, text = send(client, sample_message("From the network"), ["ann@example.org"])
        client.quit()
        assert code == 250
        assert QUEUED.search(text)
    finally:
        assert running.stop() == 0


def _plain(token: str) -> str:
    import base64

    return base64.b64encode(b"\0any\0" + token.encode()).decode()
