"""Postroom on PostgreSQL: durable intake with N API processes, delivery with M workers, and
the autoscaling signal while intake outpaces delivery.

Every figure comes from real `postroom` processes on a fresh database of the PostgreSQL server
at --admin-url (dropped afterwards), on this machine, over loopback:

1. intake: wrk POSTs bench/request.json with an API key to `postroom api --processes N`; a single
   SQLite process is measured in the same run for the ratio. Every 202 counted is checked to be
   stored.
2. delivery: emails stored beforehand, M `postroom worker` processes send them to one
   `postroom fake-provider` (SendGrid's API, 0 ms latency); deliveries/s from the first to the
   last `sent` event. The simulator alone (aiohttp posting to it, no queue) is the ceiling.
3. backlog: wrk posts while one worker with a small concurrency delivers through a slower
   provider; `postroom_queue_oldest_age_seconds` is read from the API's /metrics as it grows.

    python bench/postgres.py
    python bench/postgres.py --duration 20 --emails 20000 --processes 1 2 4 --workers 1 2 4
"""

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import delivery as sqlite_delivery
from bench import intake as sqlite_intake
from bench._servers import BIN, running
from postroom.clocks.system import SystemClock
from postroom.domain.ids import new_id
from postroom.ports.queue import NewEmail
from postroom.services.codec import encode_email
from postroom.storage.postgres import open_storage

PORT = sqlite_intake.PORT  # the port bench.intake's wrk loads
API = f"http://127.0.0.1:{PORT}"
SIM_PORT = 18496
SIM = f"http://127.0.0.1:{SIM_PORT}"
POSTROOM = str(BIN / "postroom")
QUIET = {"POSTROOM_LOG_LEVEL": "warning"}
# High enough never to refuse: their cost is still part of every request.
LIMITS = {"POSTROOM_RATE_LIMIT": "1000000", "POSTROOM_DAILY_QUOTA": "1000000000"}


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, migrated database on the admin URL's server; dropped afterwards."""
    name = f"postroom_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(admin_url)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    try:
        subprocess.run(
            [POSTROOM, "migrate", "--database-url", url], check=True, capture_output=True
        )
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def count(url: str, where: str = "true") -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM postroom_emails WHERE {where}").fetchone()
    assert row is not None
    return int(row[0])


def create_key(env: dict[str, str]) -> str:
    return subprocess.run(
        [POSTROOM, "keys", "create", "--name", "bench"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def api_command(processes: int) -> list[str]:
    return [POSTROOM, "api", "--port", str(PORT), "--processes", str(processes)]


# -- 1. intake


def intake(admin_url: str, processes: int, duration: int, connections: int) -> dict[str, float]:
    with fresh_database(admin_url) as url:
        env = {"POSTROOM_DATABASE_URL": url, **QUIET, **LIMITS}
        key = create_key(env)
        with running(api_command(processes), f"{API}/readyz", env):
            result = sqlite_intake.wrk(duration, connections, key)
        stored = count(url)
    if stored < result["requests"]:
        raise RuntimeError(f"{result['requests']} answered but only {stored} stored")
    result["stored"] = stored
    return result


# -- 2. delivery


async def fill(url: str, emails: int) -> None:
    clock = SystemClock()
    storage = open_storage(url, clock)
    payload = encode_email(sqlite_delivery.EMAIL)
    try:
        for start in range(0, emails, 1000):
            await asyncio.gather(
                *(
                    storage.queue.put(
                        NewEmail(
                            new_id(int(clock.now() * 1000), n.to_bytes(10, "big")),
                            payload,
                            clock.now(),
                        )
                    )
                    for n in range(start, min(emails, start + 1000))
                )
            )
    finally:
        await storage.close()


def simulator(latency_ms: int) -> list[str]:
    return [POSTROOM, "fake-provider", "--port", str(SIM_PORT), "--latency-ms", str(latency_ms)]


def worker_env(url: str, concurrency: int) -> dict[str, str]:
    return {
        "POSTROOM_DATABASE_URL": url,
        "POSTROOM_PROVIDERS": f"sendgrid://SG.bench?base_url={SIM}",
        "POSTROOM_CONCURRENCY": str(concurrency),
        **QUIET,
    }


def deliver(admin_url: str, workers: int, emails: int, concurrency: int) -> dict[str, float]:
    with fresh_database(admin_url) as url:
        asyncio.run(fill(url, emails))
        env = worker_env(url, concurrency)
        with ExitStack() as stack:
            stack.enter_context(running(simulator(0), f"{SIM}/_sim/behaviour"))
            for _ in range(workers):
                stack.enter_context(running([POSTROOM, "worker"], None, env))
            deadline = time.monotonic() + 600
            while count(url, "state = 'sent'") < emails and time.monotonic() < deadline:
                time.sleep(0.2)
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT min(at), max(at) FROM postroom_events WHERE state = 'sent'"
            ).fetchone()
        assert row is not None
        sent = count(url, "state = 'sent'")
    first, last = float(row[0]), float(row[1])
    return {"sent": sent, "per_second": sent / (last - first)}


# -- 3. backlog


def gauges(key: str) -> dict[str, float]:
    request = urllib.request.Request(f"{API}/metrics", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        text = reply.read().decode()
    return {
        name: float(value)
        for name, value in re.findall(r"^(postroom_queue_\w+) ([\d.e+-]+)$", text, re.M)
    }


def backlog(
    admin_url: str, duration: int, connections: int, concurrency: int, latency_ms: int
) -> tuple[dict[str, float], list[tuple[float, dict[str, float]]]]:
    with fresh_database(admin_url) as url:
        env = {"POSTROOM_DATABASE_URL": url, **QUIET, **LIMITS}
        key = create_key(env)
        samples: list[tuple[float, dict[str, float]]] = []
        with (
            running(simulator(latency_ms), f"{SIM}/_sim/behaviour"),
            running(api_command(1), f"{API}/readyz", env),
            running([POSTROOM, "worker"], None, {**env, **worker_env(url, concurrency)}),
            ThreadPoolExecutor(1) as pool,
        ):
            started = time.monotonic()
            load = pool.submit(sqlite_intake.wrk, duration, connections, key)
            while not load.done():
                samples.append((time.monotonic() - started, gauges(key)))
                time.sleep(2)
            samples.append((time.monotonic() - started, gauges(key)))
            result = load.result()
    return result, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "POSTROOM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--emails", type=int, default=10_000, help="emails per delivery run")
    parser.add_argument("--concurrency", type=int, default=64, help="sends in flight per worker")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--backlog-duration", type=int, default=20)
    parser.add_argument("--backlog-concurrency", type=int, default=4)
    parser.add_argument("--backlog-latency-ms", type=int, default=20)
    args = parser.parse_args()

    print(f"## Durable intake, {args.connections} connections, {args.duration} s per run\n")
    sqlite = sqlite_intake.postroom(1, args.duration, args.connections)
    print("| storage | API processes | req/s | vs SQLite, 1 process | p50 ms | p99 ms | stored |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| SQLite | 1 | {sqlite['rps']:,.0f} | 1.00 | {sqlite['p50_ms']:.2f} "
        f"| {sqlite['p99_ms']:.2f} | {sqlite['stored']:,.0f} |",
        flush=True,
    )
    for n in args.processes:
        pg = intake(args.admin_url, n, args.duration, args.connections)
        print(
            f"| PostgreSQL | {n} | {pg['rps']:,.0f} | {pg['rps'] / sqlite['rps']:.2f} "
            f"| {pg['p50_ms']:.2f} | {pg['p99_ms']:.2f} | {pg['stored']:,.0f} |",
            flush=True,
        )

    print(
        f"\n## Delivery, {args.emails:,} emails stored beforehand, fake provider (SendGrid API, "
        f"0 ms), concurrency {args.concurrency} per worker\n"
    )
    print("| workers | deliveries/s | sent |")
    print("|---|---|---|")
    for m in args.workers:
        result = deliver(args.admin_url, m, args.emails, args.concurrency)
        print(f"| {m} | {result['per_second']:,.0f} | {result['sent']:,.0f}/{args.emails:,} |")
    alone = sqlite_delivery.ceiling(args.emails, args.concurrency, 0)
    print(f"| simulator ceiling (aiohttp posting to it, no queue) | {alone:,.0f} | |", flush=True)

    print(
        f"\n## Backlog: wrk ({args.connections} connections, {args.backlog_duration} s) into 1 API "
        f"process, 1 worker with concurrency {args.backlog_concurrency}, provider latency "
        f"{args.backlog_latency_ms} ms\n"
    )
    load, samples = backlog(
        args.admin_url,
        args.backlog_duration,
        args.connections,
        args.backlog_concurrency,
        args.backlog_latency_ms,
    )
    print("| t s | ready | in flight | postroom_queue_oldest_age_seconds |")
    print("|---|---|---|---|")
    for at, values in samples:
        print(
            f"| {at:.0f} | {values.get('postroom_queue_ready', 0):,.0f} "
            f"| {values.get('postroom_queue_in_flight', 0):,.0f} "
            f"| {values.get('postroom_queue_oldest_age_seconds', 0):.1f} |"
        )
    print(f"\nintake during the backlog run: {load['rps']:,.0f} req/s")


if __name__ == "__main__":
    main()
