"""No address, name, subject, body, header, attachment name or metadata ever reaches the logs."""

import base64
import http.client
import json
import shutil
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.support.http import post_email, request
from tests.support.server import Server, server

CANARY = "zq7canary"


def canary_email(tag: str) -> dict[str, Any]:
    c = f"{CANARY}{tag}"
    return {
        "from": {"email": f"{c}from@example.com", "name": f"{c} Sender"},
        "to": [f"{c} Name <{c}to@example.org>"],
        "cc": [f"{c}cc@example.org"],
        "bcc": [f"{c}bcc@example.org"],
        "replyTo": f"{c}reply@example.org",
        "subject": f"{c} subject",
        "text": f"{c} text body",
        "html": f"<p>{c} html body</p>",
        "headers": {f"X-{c}": f"{c} header value"},
        "attachments": [{"filename": f"{c}.txt", "content": base64.b64encode(c.encode()).decode()}],
        "tags": [f"{c}tag"],
        "metadata": {f"{c}key": f"{c}value"},
    }


def assert_no_canary(*servers: Server) -> None:
    for running in servers:
        output = running.output()
        assert output.strip(), "no log output was captured at all"
        for line in output.splitlines():
            if not line.startswith(("postroom ", "  ")):  # the start-up banner, on stdout
                json.loads(line)  # one JSON object per line
        assert CANARY not in output, [line for line in output.splitlines() if CANARY in line][:3]


def test_accepted_delivered_and_rejected_paths_log_no_content(workdir: Path) -> None:
    """Accept, deliver to the outbox, reject, cancel, look up: the logs hold ids only."""
    serve = server(workdir, {"POSTROOM_LOG_LEVEL": "debug"}).start()
    try:
        accepted = post_email(serve.url, canary_email("a"), **{"Idempotency-Key": f"{CANARY}-key"})
        assert accepted.status == 202
        email_id = accepted.json()["id"]
        assert (
            post_email(serve.url, canary_email("a"), **{"Idempotency-Key": f"{CANARY}-key"}).status
            == 200
        )
        bad = canary_email("b")
        bad["to"] = [f"{CANARY}@", f"{CANARY}x@-bad.example"]
        bad["headers"] = {"From": f"{CANARY} forged", f"X-{CANARY}\r\n": "x"}
        bad["metadata"] = {f"{CANARY}k": 5}
        assert post_email(serve.url, bad).status == 400
        truncated = f'{{"{CANARY}": '.encode()
        json_type = {"Content-Type": "application/json"}
        assert (
            request("POST", f"{serve.url}/api/v1/email", raw=truncated, headers=json_type).status
            == 400
        )
        assert post_email(serve.url, {**canary_email("c"), "sendAt": 4_000_000_000}).status == 400
        scheduled = post_email(serve.url, {**canary_email("d"), "sendAt": _in_an_hour()})
        assert request("DELETE", f"{serve.url}/api/v1/email/{scheduled.json()['id']}").status == 200
        _wait_sent(serve, email_id)
        assert request("GET", f"{serve.url}/api/v1/email/{CANARY}").status == 404
        _list_holds_no_address_or_subject(serve, email_id)
    finally:
        serve.stop()
    assert CANARY in "".join(
        p.read_text(errors="replace") for p in (workdir / "outbox").glob("*.eml")
    )
    assert_no_canary(serve)


def _list_holds_no_address_or_subject(serve: Server, email_id: str) -> None:
    """GET /api/v1/email, by a canary address and tag too: the email is found, and neither the
    answers nor (checked by the caller) the logs hold an address or the subject."""
    c = f"{CANARY}a"
    for query in ("", f"?to={quote(f'{c}BCC@example.org')}", f"?tag={c}tag", f"?to={CANARY}@"):
        parts = urlsplit(serve.url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            conn.request("GET", f"/api/v1/email{query}")
            reply = conn.getresponse()
            body = reply.read().decode()
        finally:
            conn.close()
        if query.endswith("@"):
            assert reply.status == 400
        else:
            assert reply.status == 200
            assert email_id in body
        assert "@example." not in body
        assert "subject" not in body


def test_storage_failure_logs_no_content(workdir: Path) -> None:
    """With storage unreachable, the 503 path logs no content either."""
    (workdir / "data").mkdir()
    env = {
        "POSTROOM_DATABASE_URL": f"sqlite:///{workdir}/data/db.sqlite",
        "POSTROOM_LOG_LEVEL": "debug",
    }
    api = server(workdir, env, command="api").start()
    shutil.rmtree(workdir / "data")  # gone after start-up checked it: intake answers 503
    try:
        assert post_email(api.url, canary_email("e")).status == 503
    finally:
        api.stop()
    assert_no_canary(api)


def _in_an_hour() -> float:
    import time

    return time.time() + 3600


def _wait_sent(serve: Server, email_id: str) -> None:
    """Poll the status API until the worker has sent the email (bounded, not a fixed sleep)."""
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if request("GET", f"{serve.url}/api/v1/email/{email_id}").json()["status"] == "sent":
            return
        time.sleep(0.05)
    raise AssertionError("the email was not sent within 30 s")


def test_provider_errors_retries_dead_letters_and_cli_output_hold_no_content(workdir: Path) -> None:
    """A provider echoing the address, a retry, a dead letter, and the CLI: no canary anywhere."""
    import os
    import subprocess

    from tests.support.processes import FakeProvider
    from tests.support.server import POSTROOM

    fake = FakeProvider(workdir)
    providers = f"postmark://token?base_url={fake.url}"
    env = {"POSTROOM_PROVIDERS": providers, "POSTROOM_LOG_LEVEL": "debug"}
    serve = server(workdir, env).start()
    try:
        echoed = {**canary_email("p"), "to": [f'"{CANARY} quoted"@example.org'], "attachments": []}
        # Postmark quotes the address back in its 422.
        refused_id = post_email(serve.url, echoed).json()["id"]
        _wait_state(serve, refused_id, "failed")
        fake.behaviour({"outage": True})
        down_id = post_email(serve.url, {**canary_email("q"), "attachments": []}).json()["id"]
        _wait_state(serve, down_id, "retrying")  # the outage: a retry is scheduled
        reasons = " ".join(
            str(e["reason"])
            for e in request("GET", f"{serve.url}/api/v1/email/{refused_id}").json()["events"]
        )
        # The provider quoted the address back; the reason keeps its words but masks it.
        assert CANARY not in reasons
        assert "<address>" in reasons
    finally:
        serve.stop()
        fake.stop()
    cli = {**os.environ, **serve.env}
    outputs = [
        subprocess.run(
            [POSTROOM, *args], capture_output=True, text=True, env=cli, cwd=workdir, timeout=60
        )
        for args in (["dead", "list"], ["dead", "redrive", "--all", "--dry-run"], ["keys", "list"])
    ]
    for result in outputs:
        assert result.returncode == 0, result.stderr
        assert CANARY not in result.stdout + result.stderr
    assert refused_id in outputs[0].stdout
    assert_no_canary(serve)


def _wait_state(serve: Server, email_id: str, state: str) -> None:
    import time

    deadline = time.monotonic() + 30
    while request("GET", f"{serve.url}/api/v1/email/{email_id}").json()["status"] != state:
        assert time.monotonic() < deadline, f"{email_id} never became {state}"
        time.sleep(0.05)


def test_smtp_intake_logs_no_content(workdir: Path) -> None:
    """SMTP: accepted, repeated, refused at RCPT, invalid and unreadable messages, a wrong key:
    the logs hold ids and codes only."""
    import re
    import smtplib
    from email.policy import SMTP

    from tests.support.server import free_port, run_cli

    c = CANARY
    smtp_port = free_port()
    env = {
        "POSTROOM_LOG_LEVEL": "debug",
        "POSTROOM_SMTP_PORT": str(smtp_port),
        "POSTROOM_INSECURE_NO_AUTH": "false",
    }
    serve = server(workdir, env)
    created = run_cli("keys", "create", "--name", "privacy", env=serve.env)
    key = re.search(r"pr_[A-Za-z0-9_-]{20,}", created.stdout)
    assert key, created.stderr
    serve.start()
    try:
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login(f"{c}user", f"pr_{c}")
            client.login(f"{c}user", key.group(0))
            for _ in range(2):  # accepted, then a duplicate by Message-ID
                raw = _canary_mime(c).as_bytes(policy=SMTP)
                assert client.sendmail(f"{c}@example.com", [f"{c}bcc@example.org"], raw) == {}
            client.mail(f"{c}@example.com")
            assert client.rcpt(f"{c}@example.test")[0] == 550
            assert client.rcpt(f"{c}ok@example.org")[0] == 250
            unreadable = f"From: {c}1@example.com, {c}2@example.com\r\n\r\n{c}".encode()
            assert client.data(unreadable)[0] == 554
            invalid = _canary_mime(c)
            invalid[f"X-{c}-long"] = f"{c} " * 300  # folded, but over 998 characters
            client.mail(f"{c}@example.com")
            client.rcpt(f"{c}ok@example.org")
            assert client.data(invalid.as_bytes(policy=SMTP))[0] == 554
    finally:
        serve.stop()
    eml = "".join(p.read_text(errors="replace") for p in (workdir / "outbox").glob("*.eml"))
    assert CANARY in eml
    assert_no_canary(serve)


def _canary_mime(c: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"{c} Sender <{c}from@example.com>"
    message["To"] = f"{c} Name <{c}to@example.org>"
    message["Subject"] = f"{c} subject"
    message["Message-ID"] = f"<{c}@example.com>"
    message["X-Postroom-Tags"] = f"{c}tag"
    message["X-Postroom-Metadata"] = f'{{"{c}key": "{c}value"}}'
    message[f"X-{c}"] = f"{c} header value"
    message.set_content(f"{c} text body")
    message.add_alternative(f"<p>{c} html body</p>", subtype="html")
    message.add_attachment(c.encode(), maintype="text", subtype="plain", filename=f"{c}.txt")
    return message


def test_webhooks_out_carry_only_their_recipient_and_log_nothing_of_the_email(
    workdir: Path,
) -> None:
    """Each recipient's webhook names that recipient and nothing else of the email; the log
    lines of recording, matching, fanning out, sending and failing hold no canary."""
    from postroom.client import Client
    from tests.support.receiver import Receiver

    receiver = Receiver(statuses=[500]).start()
    serve = server(
        workdir,
        {"POSTROOM_WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8", "POSTROOM_WEBHOOK_SCHEDULE": "0,0.1,0.1"},
    ).start()
    try:
        client = Client(serve.url, "unused")
        receiver.secret = client.webhooks.create(receiver.url)["secret"]
        email = canary_email("w")
        bounced = f"bounce+{CANARY}w@simulator.example.com"
        email["to"], email["cc"], email["bcc"] = [bounced], [], []
        client.send(email)
        receiver.wait(lambda r: bool(r.of_type("email.bounced")), "the bounce's webhook")
        for got in receiver.delivered():
            payload = got.payload
            assert payload["data"].pop("recipient") == bounced
            assert CANARY not in json.dumps(payload)
        assert any(r.status == 500 for r in receiver.got)  # the failure path logged too
        page = client.events(limit=100)["data"]
        assert {e["data"]["recipient"] for e in page} == {bounced}
    finally:
        serve.stop()
        receiver.stop()
    assert_no_canary(serve)
