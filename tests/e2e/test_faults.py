"""Faults that cost nothing (docs/reliability.md): real `postroom` processes, the fake provider,
SQLite files and a real PostgreSQL, with the figures each row promises."""

import collections
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.e2e.test_worker_processes import ids_accepted
from tests.support.http import post_email, request
from tests.support.postgres import database_url, fresh_database
from tests.support.processes import FakeProvider, wait_for
from tests.support.proxy import TcpProxy
from tests.support.server import POSTROOM, Server, server

EMAIL = {"from": "shop@example.com", "to": ["ann@example.org"], "subject": "Hi", "body": "Hello"}


class Worker:
    """`postroom worker` with default settings apart from `env`, started and seen running."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.log = workdir / f"worker-{time.monotonic_ns()}.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [POSTROOM, "worker"],
                cwd=workdir,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: "worker.started" in self.output(), 30, "the worker to start")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


@pytest.fixture
def fake(workdir: Path) -> Iterator[FakeProvider]:
    provider = FakeProvider(workdir)
    yield provider
    # Killed, not stopped: a stop would wait for the slow requests the tests leave behind.
    os.killpg(provider.process.pid, signal.SIGKILL)
    provider.process.wait(30)


@pytest.fixture
def postgres() -> Iterator[str]:
    """A migrated PostgreSQL database of the test's own."""
    with fresh_database("postroom_faults") as name:
        url = database_url(name)
        subprocess.run([POSTROOM, "migrate", "--database-url", url], check=True, timeout=60)
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, workdir: Path) -> str:
    """A database URL for the API and the workers: a SQLite file, or a migrated PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{workdir}/postroom.db"
    return str(request.getfixturevalue("postgres"))


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()


def api_on(workdir: Path, url: str) -> Server:
    return server(workdir, {"POSTROOM_DATABASE_URL": url}, command="api").start()


def worker_env(api: Server, fake: FakeProvider, url: str | None = None) -> dict[str, str]:
    provider = f"mailgun://key@mg.example.com?base_url={fake.url}&timeout=90"
    return {
        **api.env,
        "POSTROOM_DATABASE_URL": url or api.env["POSTROOM_DATABASE_URL"],
        "POSTROOM_PROVIDERS": provider,
    }


def statuses(api: Server, ids: list[str]) -> collections.Counter[str]:
    return collections.Counter(
        request("GET", f"{api.url}/api/v1/email/{i}").json()["status"] for i in ids
    )


def test_a_killed_workers_emails_are_sent_by_another_within_10_s(
    workdir: Path, fake: FakeProvider, database: str, workers: list[Worker]
) -> None:
    """SIGKILL a worker with 8 sends in flight: the other worker sends all 8 within 10 s."""
    api = api_on(workdir, database)
    try:
        fake.behaviour({"latency_ms": 60_000})  # the first worker's sends hang until it dies
        ids = [post_email(api.url, EMAIL).json()["id"] for _ in range(8)]
        env = worker_env(api, fake)
        workers.append(Worker(workdir, env))
        wait_for(lambda: fake.accepted()["requests"] >= 8, 30, "8 sends in flight")
        workers.append(Worker(workdir, env))
        fake.behaviour({"latency_ms": 0})
        workers[0].kill()
        killed = time.monotonic()
        wait_for(lambda: statuses(api, ids) == {"sent": 8}, 30, "every email to be sent")
        elapsed = time.monotonic() - killed
        assert elapsed <= 10.0, f"the dead worker's emails took {elapsed:.1f} s to come back"
        counts = collections.Counter(ids_accepted(fake))
        assert set(counts) == set(ids)
        assert sum(counts.values()) - len(ids) <= 8  # duplicates: at most the sends in flight
    finally:
        api.stop()


def test_sends_slower_than_the_visibility_timeout_are_sent_once(
    workdir: Path, fake: FakeProvider, workers: list[Worker]
) -> None:
    """5 sends that take 15 s each, three visibility timeouts, 2 workers: each sent once."""
    api = server(workdir, command="api").start()
    try:
        fake.behaviour({"latency_ms": 15_000})
        ids = [post_email(api.url, EMAIL).json()["id"] for _ in range(5)]
        env = {**worker_env(api, fake), "POSTROOM_VISIBILITY_TIMEOUT": "5"}
        workers += [Worker(workdir, env), Worker(workdir, env)]
        wait_for(lambda: statuses(api, ids) == {"sent": 5}, 40, "every email to be sent")
        assert fake.accepted()["requests"] == 5  # no second request for any of them
        assert sorted(ids_accepted(fake)) == sorted(ids)
    finally:
        api.stop()


def test_scheduled_emails_are_on_time_while_a_30_s_send_runs(
    workdir: Path, fake: FakeProvider, workers: list[Worker]
) -> None:
    """With one 30 s send in flight, 10 scheduled emails are each sent within 1 s of sendAt."""
    api = server(workdir, command="api").start()
    try:
        fake.behaviour({"latency_ms": 30_000})
        post_email(api.url, EMAIL)
        workers.append(Worker(workdir, worker_env(api, fake)))
        wait_for(lambda: fake.accepted()["requests"] >= 1, 30, "the slow send to start")
        fake.behaviour({"latency_ms": 0})  # the slow request keeps its 30 s
        start = time.time() + 1.0
        due = {}
        for n in range(10):
            at = start + 0.5 * n
            due[post_email(api.url, {**EMAIL, "sendAt": at}).json()["id"]] = at
        wait_for(lambda: fake.accepted()["count"] >= 10, 20, "the scheduled emails")
        late = sorted(
            sent["at"] - due[email_id]
            for sent, email_id in zip(fake.accepted()["accepted"], ids_accepted(fake), strict=True)
        )
        assert late[0] >= 0, "an email was sent before its time"
        assert late[-1] <= 1.0, f"lateness {late}"  # 10 samples: the p99 is the worst
    finally:
        api.stop()


def through(proxy: TcpProxy, url: str) -> str:
    """`url` pointed at the proxy instead of the server."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))


def test_a_settle_survives_a_postgres_outage(
    workdir: Path, fake: FakeProvider, postgres: str, workers: list[Worker]
) -> None:
    """PostgreSQL drops every worker connection while a send is in flight and is back 5 s
    later: the ack is retried, the email is recorded sent at once, and sent only once."""
    target = urlsplit(postgres)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    api = api_on(workdir, postgres)  # the API reads states directly, as a client sees them
    try:
        fake.behaviour({"latency_ms": 2_000})
        (email_id,) = [post_email(api.url, EMAIL).json()["id"]]
        env = worker_env(api, fake, through(proxy, postgres))
        workers += [Worker(workdir, env), Worker(workdir, env)]
        wait_for(lambda: fake.accepted()["requests"] >= 1, 30, "the send to start")
        proxy.cut()
        cut = time.monotonic()
        wait_for(lambda: fake.accepted()["count"] == 1, 10, "the provider to accept it")
        wait_for(
            lambda: any("deliver.settle_retrying" in w.output() for w in workers),
            10,
            "the failed ack to be retried",
        )
        # Not a wait for something to happen: the outage itself lasts 5 s.
        time.sleep(max(0.0, 5.0 - (time.monotonic() - cut)))
        proxy.restore()
        restored = time.monotonic()
        wait_for(lambda: statuses(api, [email_id]) == {"sent": 1}, 10, "the email to be sent")
        assert time.monotonic() - restored <= 2.0
        assert fake.accepted()["requests"] == 1  # never sent again
        logged = sum(w.output().count("deliver.settle_retrying") for w in workers)
        assert logged == 1, f"the retried settle was logged {logged} times"
    finally:
        api.stop()
        proxy.cut()
