"""SMTP clients' side of the SMTP intake tests: the running server, `postroom smtp` alone,
and the messages and transactions the tests send."""

import os
import re
import smtplib
import socket
import subprocess
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from tests.support.http import request
from tests.support.processes import wait_for
from tests.support.server import POSTROOM, Server, free_port, run_cli


class Running:
    """The server under test with its SMTP port and a valid API key."""

    def __init__(self, serve: Server, smtp_port: int, key: str) -> None:
        self.serve, self.smtp_port, self.key = serve, smtp_port, key

    def connect(self, login: bool = True) -> smtplib.SMTP:
        client = smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30)
        client.ehlo()
        if login:
            client.login("any-user", self.key)
        return client

    def status(self, email_id: str) -> dict[str, object]:
        reply = request(
            "GET",
            f"{self.serve.url}/api/v1/email/{email_id}",
            headers={"Authorization": f"Bearer {self.key}"},
        )
        assert reply.status == 200, reply.body
        return dict(reply.json())

    def received(self, email_id: str) -> EmailMessage:
        """The message as the outbox provider wrote it, once the worker has sent it."""
        eml = self.serve.workdir / "outbox" / f"{email_id}.eml"
        wait_for(eml.exists, 30, f"{email_id}.eml in the outbox")
        parsed = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        assert isinstance(parsed, EmailMessage)
        return parsed

    def received_with_subject(self, subject: str) -> list[EmailMessage]:
        found = []
        for eml in (self.serve.workdir / "outbox").glob("*.eml"):
            parsed = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
            if parsed["Subject"] == subject:
                assert isinstance(parsed, EmailMessage)
                found.append(parsed)
        return found


def create_key(env: dict[str, str], name: str) -> str:
    # Scopes to send and to put an address on the suppression list for RCPT TO to refuse.
    scopes = "send,read,suppressions"
    created = run_cli("keys", "create", "--name", name, "--scope", scopes, env=env)
    assert created.returncode == 0, created.stderr
    found = re.search(r"pr_[A-Za-z0-9_-]{20,}", created.stdout + created.stderr)
    assert found
    return found.group(0)


class SmtpOnly:
    """`postroom smtp`: the SMTP intake alone (no HTTP port), started as an operator would."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "POSTROOM_DATABASE_URL": f"sqlite:///{workdir}/postroom.db",
            "POSTROOM_PROVIDERS": f"outbox://{workdir}/outbox",
            "POSTROOM_SMTP_PORT": str(self.port),
            "POSTROOM_LOG_FORMAT": "json",
            **env,
        }
        self.log = workdir / f"smtp-{self.port}.log"

    def start(self, *wait_ports: int) -> "SmtpOnly":
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [POSTROOM, "smtp"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        for port in wait_ports or (self.port,):
            wait_for(lambda port=port: listening(port), 30, f"postroom smtp on port {port}")
        return self

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(30)


def listening(port: int) -> bool:
    """Whether something accepts connections on the port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def sample_message(subject: str, to: str = "Ann Lee <ann@example.org>") -> EmailMessage:
    """An email as an application builds one: display names, a text and an HTML part."""
    message = EmailMessage()
    message["From"] = "Shop Ltd <shop@example.com>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Plain words\n")
    message.add_alternative("<p>Rich words</p>\n", subtype="html")
    return message


def body(message: EmailMessage, kind: str) -> str:
    """A received text part as its sender wrote it (the .eml holds the wire's CRLF ends)."""
    part = message.get_body((kind,))
    assert part is not None, f"no text/{kind} part"
    return str(part.get_content()).replace("\r\n", "\n")


def send(client: smtplib.SMTP, message: EmailMessage, rcpt: list[str]) -> tuple[int, str]:
    """MAIL, RCPT, DATA by hand, for the DATA reply's text (send_message drops it)."""
    assert client.mail("bounce@example.com")[0] == 250
    for address in rcpt:
        code, text = client.rcpt(address)
        assert code == 250, (code, text)
    code, text = client.data(message.as_bytes(policy=policy.SMTP))
    return code, text.decode()


def connected(port: int) -> smtplib.SMTP | None:
    """A session greeted with 220, or None when the greeting refused it (421)."""
    try:
        return smtplib.SMTP("127.0.0.1", port, timeout=30)
    except smtplib.SMTPConnectError:
        return None


def greeted(port: int) -> bool:
    """Whether a new connection is greeted with 220 (and then closed)."""
    client = connected(port)
    if client is not None:
        client.quit()
    return client is not None
