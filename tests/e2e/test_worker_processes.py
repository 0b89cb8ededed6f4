"""Workers as real processes against the fake provider: SIGKILL loses nothing, SIGTERM drains."""

import collections
import re
import signal
from pathlib import Path

from tests.support.http import post_email, request
from tests.support.processes import FakeProvider, start_worker, wait_for
from tests.support.server import server

EMAIL = {"from": "shop@example.com", "to": ["ann@example.org"], "subject": "Hi", "body": "Hello"}
_ID = re.compile(r"<([0-9a-f-]{36})@")


def ids_accepted(fake: FakeProvider) -> list[str]:
    """Our email ids as the provider received them (from the Message-ID header)."""
    found = []
    for item in fake.accepted()["accepted"]:
        match = _ID.search(item["payload"]["h:Message-Id"][0])
        assert match
        found.append(match.group(1))
    return found


def test_sigkill_of_a_worker_loses_nothing(workdir: Path) -> None:
    """Kill a worker mid-run, restart it: every email sent, duplicates only from in-flight sends."""
    fake = FakeProvider(workdir, "--latency-ms", "30")
    api = server(workdir, command="api").start()
    concurrency = 16
    env = {
        **api.env,
        "POSTROOM_PROVIDERS": f"mailgun://key@mg.example.com?base_url={fake.url}",
        "POSTROOM_CONCURRENCY": str(concurrency),
        "POSTROOM_VISIBILITY_TIMEOUT": "10",
    }
    try:
        ids = [post_email(api.url, EMAIL).json()["id"] for _ in range(400)]
        worker = start_worker(workdir, env)
        wait_for(lambda: fake.accepted()["count"] >= 120, 60, "120 sends")
        worker.kill()
        worker.wait(30)
        restarted = start_worker(workdir, env)
        wait_for(lambda: len(set(ids_accepted(fake))) == len(ids), 120, "every email to be sent")
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(60) == 0
        counts = collections.Counter(ids_accepted(fake))
        assert set(counts) == set(ids)  # lost = 0
        duplicates = sum(n - 1 for n in counts.values())
        assert duplicates <= concurrency, (
            f"{duplicates} duplicates, more than the {concurrency} in flight"
        )
        statuses = collections.Counter(
            request("GET", f"{api.url}/api/v1/email/{i}").json()["status"] for i in ids
        )
        assert statuses == {"sent": len(ids)}
    finally:
        api.stop()
        fake.stop()


def test_sigterm_finishes_in_flight_sends(workdir: Path) -> None:
    """SIGTERM while sends are in flight: they complete and are recorded, the worker exits 0."""
    fake = FakeProvider(workdir, "--latency-ms", "1500")
    api = server(workdir, command="api").start()
    env = {**api.env, "POSTROOM_PROVIDERS": f"mailgun://key@mg.example.com?base_url={fake.url}"}
    try:
        ids = [post_email(api.url, EMAIL).json()["id"] for _ in range(8)]
        worker = start_worker(workdir, env)
        wait_for(lambda: fake.accepted()["requests"] >= 8, 60, "8 sends in flight")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
        assert sorted(ids_accepted(fake)) == sorted(ids)
        for email_id in ids:
            assert request("GET", f"{api.url}/api/v1/email/{email_id}").json()["status"] == "sent"
    finally:
        api.stop()
        fake.stop()
