"""When storage cannot take an email: 503 with Retry-After, never a 202, nothing half-written."""

import base64
import collections
import os
import shutil
import subprocess
from pathlib import Path

from tests.support.http import post_email, request
from tests.support.processes import FakeProvider, start_worker, wait_for
from tests.support.server import POSTROOM, server

BIG = base64.b64encode(os.urandom(60_000)).decode()
# A 2 MiB cap bounds the WAL at 1 MiB; one batch (an email of ~80 kB) may cross it.
WAL_BOUND = 1024 * 1024 + 100_000
SMALL = {"from": "a@example.com", "to": ["b@example.org"], "text": "Hello"}


def test_full_storage_answers_503_and_keeps_what_it_accepted(workdir: Path) -> None:
    """With the database at its size cap, POST is 503; every earlier 202 is still there."""
    env = {"POSTROOM_DATABASE_URL": f"sqlite:///{workdir}/postroom.db?max_size_mb=2"}
    api = server(workdir, env, command="api").start()
    try:
        accepted, refused = [], None
        for n in range(200):
            attachment = {"filename": f"f{n}.bin", "content": BIG}
            reply = post_email(
                api.url,
                {"from": "a@example.com", "to": ["b@example.org"], "attachments": [attachment]},
            )
            if reply.status != 202:
                refused = reply
                break
            accepted.append(reply.json()["id"])
        assert refused is not None, "the cap was never reached"
        assert refused.status == 503
        assert refused.headers["retry-after"].isdigit()
        assert refused.json()["status"] == "SERVICE_UNAVAILABLE"
        assert accepted
        for email_id in accepted:
            assert request("GET", f"{api.url}/api/v1/email/{email_id}").status == 200
        assert request("GET", f"{api.url}/healthz").status == 200
    finally:
        api.stop()


def test_unreachable_storage_is_not_ready(workdir: Path) -> None:
    """Storage gone after start: /readyz and POST answer 503, /healthz stays 200."""
    (workdir / "data").mkdir()
    env = {"POSTROOM_DATABASE_URL": f"sqlite:///{workdir}/data/postroom.db"}
    api = server(workdir, env, command="api").start()
    # Start-up checked the file; the API opens it at its first request, when it is gone.
    shutil.rmtree(workdir / "data")
    try:
        assert request("GET", f"{api.url}/healthz").status == 200
        assert request("GET", f"{api.url}/readyz").status == 503
        reply = post_email(api.url, {"from": "a@example.com", "to": ["b@example.org"]})
        assert reply.status == 503
        assert "retry-after" in reply.headers
    finally:
        api.stop()


def _fill(api_url: str) -> list[str]:
    """POST emails of ~80 kB until the API refuses one; the ids it accepted."""
    accepted = []
    for n in range(200):
        attachment = {"filename": f"f{n}.bin", "content": BIG}
        reply = post_email(api_url, {**SMALL, "attachments": [attachment]})
        if reply.status != 202:
            assert reply.status == 503
            return accepted
        accepted.append(reply.json()["id"])
    raise AssertionError("the cap was never reached")


def _status(api_url: str, email_id: str) -> str:
    return str(request("GET", f"{api_url}/api/v1/email/{email_id}").json()["status"])


def _sent_ids(fake: FakeProvider) -> list[str]:
    """Our email ids as the provider received them (the v:postroom_id form field)."""
    return [item["payload"]["v:postroom_id"][0] for item in fake.accepted()["accepted"]]


def test_full_store_still_delivers_and_intake_resumes(workdir: Path) -> None:
    """At the size cap intake is 503 and /readyz says full, yet every accepted email is sent
    once, the WAL stays bounded, and a raised cap lets intake resume."""
    fake = FakeProvider(workdir)
    database = workdir / "postroom.db"
    env = {
        "POSTROOM_DATABASE_URL": f"sqlite:///{database}?max_size_mb=2",
        "POSTROOM_PROVIDERS": f"mailgun://key@mg.example.com?base_url={fake.url}",
    }
    api = server(workdir, env, command="api").start()
    worker = None
    try:
        accepted = _fill(api.url)
        assert os.path.getsize(f"{database}-wal") <= WAL_BOUND
        ready = request("GET", f"{api.url}/readyz")
        assert ready.status == 503
        assert ready.json()["errors"] == {"storage": "full"}
        check = subprocess.run(
            [POSTROOM, "check"], env={**os.environ, **api.env}, capture_output=True, text=True
        )
        assert check.returncode == 1
        assert "storage is full" in check.stdout + check.stderr
        worker = start_worker(workdir, api.env)
        wait_for(
            lambda: all(_status(api.url, i) == "sent" for i in accepted), 60, "every email sent"
        )
        assert collections.Counter(_sent_ids(fake)) == dict.fromkeys(accepted, 1)
        assert request("GET", f"{api.url}/readyz").status == 503  # still full: payloads stay
        assert os.path.getsize(f"{database}-wal") <= WAL_BOUND
        api.stop()
        raised = {**env, "POSTROOM_DATABASE_URL": f"sqlite:///{database}?max_size_mb=4"}
        api = server(workdir, raised, command="api").start()
        assert request("GET", f"{api.url}/readyz").status == 200
        later = post_email(api.url, SMALL)
        assert later.status == 202
        wait_for(lambda: _status(api.url, later.json()["id"]) == "sent", 30, "the later email")
        assert collections.Counter(_sent_ids(fake)) == dict.fromkeys(
            [*accepted, later.json()["id"]], 1
        )
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        api.stop()
        fake.stop()
