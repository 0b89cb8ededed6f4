"""The proof-at-scale scenario shared by the PostgreSQL and SQS runs: emails go in while workers
deliver, one worker is SIGKILLed midway and replaced, and then every email must be sent, none
lost, and the only duplicates those the killed worker had in flight."""

import collections
import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.e2e.test_worker_processes import ids_accepted
from tests.support.load import Submitted
from tests.support.postgres import database_url
from tests.support.processes import FakeProvider, start_worker
from tests.support.server import POSTROOM, Server, server


def states(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, int]:
    """How many emails are in each state, read from the database directly."""
    rows = conn.execute("SELECT state, count(*) FROM postroom_emails GROUP BY state").fetchall()
    return {str(state): int(str(n)) for state, n in rows}


def poll(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.25) -> None:
    """Check `condition` every `every` seconds (each check scans the table) until true; fail
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def kill_one_worker_midway(
    *,
    database: str,
    submit: Callable[[], Submitted],
    workers: list[subprocess.Popen[bytes]],
    restart: Callable[[], subprocess.Popen[bytes]],
    fake: FakeProvider,
    emails: int,
    kill_after: int,
    in_flight: int,
    timeout: float,
) -> None:
    """Run `submit` in a thread; once `kill_after` emails are sent, SIGKILL workers[0] and add
    `restart()`; then check the outcome and stop the survivors with SIGTERM (exit 0). `in_flight`
    is the killed worker's concurrency: the bound on duplicates."""
    with psycopg.connect(database, autocommit=True) as conn, ThreadPoolExecutor(1) as pool:
        began = time.monotonic()
        submitting = pool.submit(submit)
        poll(lambda: states(conn).get("sent", 0) >= kill_after, timeout, f"{kill_after} sent")
        intake_done_at_kill = submitting.done()
        killed_at = time.monotonic() - began
        workers[0].kill()
        assert workers[0].wait(30) == -signal.SIGKILL
        workers.append(restart())
        submitted = submitting.result(timeout=timeout)
        assert not submitted.refused, submitted.refused
        assert not submitted.errors, submitted.errors
        assert len(set(submitted.ids)) == emails
        poll(lambda: states(conn).get("sent", 0) >= emails, timeout, "every email sent")
        all_sent_at = time.monotonic() - began
        assert states(conn) == {"sent": emails}  # none failed, dead-lettered or pending
    counts = collections.Counter(ids_accepted(fake))
    assert set(counts) == set(submitted.ids)  # lost = 0
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= in_flight, (
        f"{duplicates} duplicates, more than the {in_flight} in flight in the killed worker"
    )
    for worker in workers[1:]:
        worker.send_signal(signal.SIGTERM)
    assert [worker.wait(60) for worker in workers[1:]] == [0] * (len(workers) - 1)
    print(
        f"\nintake {submitted.per_second:,.0f}/s over {submitted.seconds:.0f} s; "
        f"kill at {killed_at:.0f} s (intake finished by then: {intake_done_at_kill}); "
        f"all sent at {all_sent_at:.0f} s; duplicates {duplicates}"
    )


@dataclass
class Deployment:
    api: Server
    fake: FakeProvider
    workers: list[subprocess.Popen[bytes]]
    start_worker: Callable[[], subprocess.Popen[bytes]]


@contextlib.contextmanager
def deployment(
    workdir: Path, database: str, extra: dict[str, str], concurrency: int, visibility: str
) -> Iterator[Deployment]:
    """Migrated as at a deploy, then 2 API processes, 3 workers and the simulator (5 ms);
    every process stopped afterwards. `extra` is added to every process's environment."""
    migrated = subprocess.run(
        [POSTROOM, "migrate", "--database-url", database_url(database)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrated.returncode == 0, migrated.stderr
    fake = FakeProvider(workdir, "--latency-ms", "5")
    common = {
        # The serving processes only read the schema version.
        "POSTROOM_DATABASE_URL": database_url(database, "migrate=off"),
        "POSTROOM_LOG_LEVEL": "warning",
        **extra,
    }
    api = server(workdir, common, command="api", args=["--processes", "2"]).start()
    env = {
        **api.env,
        "POSTROOM_PROVIDERS": f"mailgun://key@mg.example.com?base_url={fake.url}",
        "POSTROOM_CONCURRENCY": str(concurrency),
        "POSTROOM_VISIBILITY_TIMEOUT": visibility,
    }
    workers = [start_worker(workdir, env) for _ in range(3)]
    try:
        yield Deployment(api, fake, workers, lambda: start_worker(workdir, env))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait(30)
        api.stop()
        fake.stop()
