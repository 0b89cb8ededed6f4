"""When storage cannot take an email: 503 with Retry-After, never a 202, nothing half-written."""

import base64
import os
import shutil
from pathlib import Path

from tests.support.http import post_email, request
from tests.support.server import server

BIG = base64.b64encode(os.urandom(60_000)).decode()


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
