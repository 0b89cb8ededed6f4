"""Content at rest: with keys set, no personal data is readable in the SQLite files."""

import os
import subprocess
from pathlib import Path

from tests.e2e.test_logs_privacy import CANARY, canary_email
from tests.support.http import post_email, request
from tests.support.processes import FakeProvider, wait_for
from tests.support.server import POSTROOM, Server, server


def new_key() -> str:
    return subprocess.run(
        [POSTROOM, "encryption", "new-key"], capture_output=True, text=True, check=True
    ).stdout.strip()


def stored_bytes(workdir: Path) -> bytes:
    """Everything SQLite keeps: the database, its write-ahead log and shared memory."""
    return b"".join(p.read_bytes() for p in workdir.glob("postroom.db*") if p.is_file())


def status_of(api: Server, email_id: str) -> dict[str, object]:
    return request("GET", f"{api.url}/api/v1/email/{email_id}").json()  # type: ignore[no-any-return]


def test_no_canary_in_the_database_files(workdir: Path) -> None:
    """Addresses, names, subject, bodies, headers, attachments, metadata, idempotency keys and a
    provider's error text are all unreadable on disk; the API still shows what it should."""
    fake = FakeProvider(workdir)
    providers = f"mailgun://key@mg.example.com?base_url={fake.url}"
    serve = server(
        workdir, {"POSTROOM_ENCRYPTION_KEYS": new_key(), "POSTROOM_PROVIDERS": providers}
    ).start()
    try:
        sent = post_email(
            serve.url, canary_email("a"), **{"Idempotency-Key": f"{CANARY}-order"}
        ).json()["id"]
        refused = canary_email("b")
        refused["to"] = [f"{CANARY}@-refused.example.org"]  # intake refuses it: nothing stored
        assert post_email(serve.url, refused).status == 400
        wait_for(lambda: status_of(serve, sent)["status"] == "sent", 30, "the email to be sent")
    finally:
        serve.stop()
        fake.stop()
    disk = stored_bytes(workdir)
    assert disk, "no database files found"
    assert CANARY.encode() not in disk
    assert b"example.org" not in disk


def test_provider_error_text_is_sealed_and_shown_to_its_owner(workdir: Path) -> None:
    """A provider's refusal quoting the address is stored encrypted and readable via the API."""
    fake = FakeProvider(workdir)
    providers = f"mailgun://key@mg.example.com?base_url={fake.url}"
    env = {"POSTROOM_ENCRYPTION_KEYS": new_key(), "POSTROOM_PROVIDERS": providers}
    serve = server(workdir, env).start()
    try:
        email = {
            "from": "shop@example.com",
            "to": [f"{CANARY}x@example.org"],
            "subject": "x",
        }  # no body
        email_id = post_email(serve.url, email).json()["id"]
        wait_for(lambda: status_of(serve, email_id)["status"] == "failed", 30, "the refusal")
        reasons = [e["reason"] for e in status_of(serve, email_id)["events"] if e["reason"]]  # type: ignore[index, union-attr]
        assert reasons
    finally:
        serve.stop()
        fake.stop()
    assert CANARY.encode() not in stored_bytes(workdir)


def test_wrong_or_missing_key_stops_start_up(workdir: Path) -> None:
    """Stored content that the configured keys cannot open is a one-line start-up error."""
    key = new_key()
    first = server(workdir, {"POSTROOM_ENCRYPTION_KEYS": key}, command="api").start()
    assert post_email(first.url, canary_email("c")).status == 202
    first.stop()
    for keys in (new_key(), ""):
        result = subprocess.run(
            [POSTROOM, "api", "--port", "1"],
            capture_output=True,
            text=True,
            cwd=workdir,
            env={**os.environ, **first.env, "POSTROOM_ENCRYPTION_KEYS": keys},
            timeout=60,
        )
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1
        assert "POSTROOM_ENCRYPTION_KEYS" in result.stderr
        assert key.split(":")[1] not in result.stderr


def test_rotation_moves_everything_to_the_new_key(workdir: Path) -> None:
    """New key first, rotate, drop the old key: every email still opens and is delivered."""
    old, new = new_key(), new_key()
    api = server(workdir, {"POSTROOM_ENCRYPTION_KEYS": old}, command="api").start()
    ids = [post_email(api.url, canary_email(str(n))).json()["id"] for n in range(5)]
    api.stop()
    env = {**os.environ, **api.env, "POSTROOM_ENCRYPTION_KEYS": f"{new},{old}"}
    rotated = subprocess.run(
        [POSTROOM, "encryption", "rotate"],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
        timeout=60,
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 5 values of 5 emails" in rotated.stdout
    again = subprocess.run(
        [POSTROOM, "encryption", "rotate"],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
        timeout=60,
    )
    assert "re-encrypted 0 values" in again.stdout
    serve = server(workdir, {"POSTROOM_ENCRYPTION_KEYS": new})
    serve.port = api.port
    serve.start()
    try:
        wait_for(lambda: all(status_of(serve, i)["status"] == "sent" for i in ids), 30, "delivery")
    finally:
        serve.stop()
    assert CANARY in "".join(
        p.read_text(errors="replace") for p in (workdir / "outbox").glob("*.eml")
    )
