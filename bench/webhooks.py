"""Webhooks out: deliveries/s of one worker to a local receiver, and a bounce's latency to
the application's webhook.

1. Throughput. Emails, an endpoint and one `delivered` event per email are stored beforehand
   in a SQLite file, through the services production uses (Endpoints, RecordEvents.own), so the
   event store writes the feed items and webhook messages itself. One `postroom worker` (core 0)
   then signs and POSTs them to bench/receiver_app.py (core 1), which answers 200 after
   --latency-ms. Deliveries/s is counted from the worker's own webhook_attempts, first to
   last. The baseline, in the same round: aiohttp alone (core 0, the same concurrency, no
   queue, no signing) POSTing a body of the same size with the same headers to the same
   receiver. Worker CPU per webhook is read from /proc over the middle 80 %.
2. Latency, idle. `postroom serve` sends emails one at a time to bounce+N@simulator.example.com
   through Mailgun's API on `postroom fake-provider`; the simulator posts its signed `failed`
   webhook through the receiver's relay (which notes the moment) to Postroom, and the time to
   the receiver's `email.bounced` webhook is measured on that one clock. Then one more email to
   each (now suppressed) address: its `email.suppressed` webhook, timed from the event's own
   time, shows how long an event with no provider webhook behind it waits.

    python bench/webhooks.py                 # 10,000 webhooks at 0 and 50 ms, 3 rounds; latency
    python bench/webhooks.py --quick         # a short run of everything
"""

import argparse
import asyncio
import json
import os
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench.delivery as delivery
from bench._servers import BIN, ROOT, running
from bench.delivery import CpuWindow, fill, pinned
from postroom.clocks.system import SystemClock
from postroom.domain.events import EventType
from postroom.domain.ids import new_id
from postroom.domain.keys import DEFAULT_TENANT
from postroom.domain.signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    new_secret,
    signature_header,
)
from postroom.domain.webhooks import payload
from postroom.outbound.guard import check_url
from postroom.services.addresses import AddressKeys
from postroom.services.content import Content, NoCipher
from postroom.services.events import RecordEvents
from postroom.services.webhook_endpoints import Endpoints
from postroom.storage.sqlite import sqlite_storage

RECEIVER_PORT, API_PORT, SIM_PORT = 18492, 18493, 18494
RECEIVER = f"http://127.0.0.1:{RECEIVER_PORT}"
API = f"http://127.0.0.1:{API_PORT}"
SIM = f"http://127.0.0.1:{SIM_PORT}"
SIGNING_KEY = "bench-mailgun-signing-key"


def get(url: str, data: dict[str, Any] | None = None, timeout: float = 60) -> Any:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.loads(reply.read())


def free(*ports: int) -> None:
    """Refuse to start on a port something else holds: readiness would be checked against it."""
    for port in ports:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                raise RuntimeError(f"port {port} is taken (another run of this benchmark?)")


def receiver(latency_ms: float, *flags: str) -> list[str]:
    free(RECEIVER_PORT)
    app = str(ROOT / "bench" / "receiver_app.py")
    command = [sys.executable, app, "--port", str(RECEIVER_PORT), "--latency-ms", str(latency_ms)]
    return pinned([*command, *flags], 1)


# -- 1. throughput ------------------------------------------------------------------------


async def prefill(db: Path, count: int) -> None:
    """`count` emails already sent, one endpoint at the receiver, and each email's `delivered`
    event recorded as Postroom records its own: the store fans them out to messages."""
    await fill(db, count)
    with sqlite3.connect(db) as conn:
        # Sent already: the worker must only deliver webhooks, not the emails themselves.
        conn.execute("UPDATE emails SET state = 'sent', available_at = NULL")
        ids = [row[0] for row in conn.execute("SELECT id FROM emails ORDER BY id")]
    clock = SystemClock()
    storage = sqlite_storage(str(db), clock)
    content = Content(NoCipher())
    assert storage.events is not None
    assert storage.webhooks is not None
    endpoints = Endpoints(storage.webhooks, content, clock, check_url)
    await endpoints.create(DEFAULT_TENANT, f"{RECEIVER}/hook", [], "bench")
    record = RecordEvents(storage.events, AddressKeys(content), clock)
    await asyncio.gather(
        *(record.own(i, DEFAULT_TENANT, [0], EventType.DELIVERED, "") for i in ids)
    )
    await storage.close()


def query(db: Path, sql: str) -> tuple[Any, ...]:
    with sqlite3.connect(db) as conn:
        return tuple(conn.execute(sql).fetchone())


def worker_run(count: int, concurrency: int, latency_ms: float) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="postroom-webhooks-"))
    db = workdir / "bench.db"
    try:
        asyncio.run(prefill(db, count))
        (messages,) = query(db, "SELECT count(*) FROM webhook_messages WHERE state = 'pending'")
        if messages != count:
            raise RuntimeError(f"{count} events recorded but {messages} webhook messages")
        env = {
            "POSTROOM_DATABASE_URL": f"sqlite:///{db}",
            "POSTROOM_PROVIDERS": f"outbox://{workdir / 'outbox'}",
            "POSTROOM_WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8",
            "POSTROOM_WEBHOOK_CONCURRENCY": str(concurrency),
            "POSTROOM_LOG_LEVEL": "warning",
        }
        worker_command = pinned([str(BIN / "postroom"), "worker"], 0)
        with (
            running(receiver(latency_ms), f"{RECEIVER}/count") as receiving,
            running(worker_command, None, env) as worker,
        ):
            window = CpuWindow(count, worker.pid, receiving.pid)
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                counts = get(f"{RECEIVER}/count")
                arrived = counts["count"]
                window.observe(arrived)
                if arrived >= count:
                    (settled,) = query(
                        db, "SELECT count(*) FROM webhook_messages WHERE state = 'delivered'"
                    )
                    if settled >= count:
                        break
                time.sleep(0.05)
        ok, first, last = query(
            db, "SELECT count(*), min(at), max(at) FROM webhook_attempts WHERE status = 200"
        )
        (attempts,) = query(db, "SELECT count(*) FROM webhook_attempts")
        return {
            "delivered": ok,
            "attempts": attempts,
            "per_second": ok / (last - first),
            "peak": counts["peak"],
            "worker_us": window.per_email[0] * 1e6 if window.per_email else float("nan"),
            "receiver_us": window.per_email[1] * 1e6 if window.per_email else float("nan"),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def same_request() -> tuple[bytes, dict[str, str]]:
    """A webhook as the worker sends one: a `delivered` payload of the same size, the same
    headers, but signed once here, not per request."""
    data = {
        "id": "evt_10000",
        "seq": 10000,
        "email_id": new_id(int(time.time() * 1000), bytes(10)),
        "recipient": "ann.lee@example.org",
        "at": "2026-12-01T14:00:00.000Z",
    }
    body = payload("email.delivered", time.time(), data)
    secret = new_secret(os.urandom(24))
    now = int(time.time())
    headers = {
        ID_HEADER: "evt_10000",
        TIMESTAMP_HEADER: str(now),
        SIGNATURE_HEADER: signature_header([secret], "evt_10000", now, body),
        "content-type": "application/json",
        "user-agent": "Postroom-Webhooks",
        "Accept-Encoding": "identity",
    }
    return body.encode(), headers


async def _post_all(count: int, concurrency: int) -> float:
    import aiohttp

    body, headers = same_request()
    left = count

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with session.post(f"{RECEIVER}/hook", data=body, headers=headers) as reply:
                await reply.read()

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


def baseline(count: int, concurrency: int, latency_ms: float) -> tuple[float, float]:
    """Requests/s of aiohttp alone, and its CPU µs per request (this process: the client)."""
    import uvloop

    with running(receiver(latency_ms), f"{RECEIVER}/count"):
        # The client takes the worker's core for the time of the run.
        cores = os.sched_getaffinity(0)
        if delivery.PIN:
            os.sched_setaffinity(0, {0})
        try:
            cpu = time.process_time()
            rate = uvloop.run(_post_all(count, concurrency))
            return rate, (time.process_time() - cpu) / count * 1e6
        finally:
            os.sched_setaffinity(0, cores)


def throughput(args: argparse.Namespace) -> None:
    print(
        "| latency | round | aiohttp alone/s | worker webhooks/s | ratio to aiohttp "
        "| share of concurrency ÷ latency | target | delivered / attempts "
        "| worker CPU µs/webhook | aiohttp alone CPU µs/request | receiver CPU µs/webhook "
        "| most in flight |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for latency in args.latencies:
        # 0 ms: half the bare client; else 90 % of what the concurrency allows.
        ceiling = args.concurrency / (latency / 1000) if latency else 0.0
        target = f"share ≥ 0.9 ({0.9 * ceiling:,.0f}/s)" if ceiling else "ratio ≥ 0.5"
        rows: list[tuple[float, float, float, float, float]] = []
        for round_ in range(1, args.rounds + 1):
            alone, alone_us = baseline(args.webhooks, args.concurrency, latency)
            result = worker_run(args.webhooks, args.concurrency, latency)
            rate = result["per_second"]
            # At 0 ms each request is answered in one step of the receiver's loop: no overlap.
            peak = f"{result['peak']:.0f}" if latency else "n/a"
            share = rate / ceiling if ceiling else float("nan")  # printed "nan" at 0 ms
            rows.append((rate, rate / alone, share, result["worker_us"], alone_us))
            print(
                f"| {latency:g} ms | {round_} | {alone:,.0f} | {rate:,.0f} | {rate / alone:.2f} "
                f"| {share:.2f} | {target} | {result['delivered']:,} / {result['attempts']:,} "
                f"| {result['worker_us']:.0f} | {alone_us:.0f} | {result['receiver_us']:.0f} | {peak} |",
                flush=True,
            )
        rate, ratio, share, cpu, alone_cpu = (
            statistics.median(column) for column in zip(*rows, strict=True)
        )
        print(
            f"| {latency:g} ms | median | | {rate:,.0f} | **{ratio:.2f}** | {share:.2f} "
            f"| | | {cpu:.0f} | {alone_cpu:.0f} | | |",
            flush=True,
        )


# -- 2. latency ---------------------------------------------------------------------------


def iso_seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bounce_latency(emails: int) -> dict[str, list[float]]:
    workdir = Path(tempfile.mkdtemp(prefix="postroom-webhook-latency-"))
    env = {
        "POSTROOM_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "POSTROOM_PROVIDERS": (
            f"mailgun://key@mg.example.com?base_url={SIM}&webhook_signing_key={SIGNING_KEY}"
        ),
        "POSTROOM_PORT": str(API_PORT),
        "POSTROOM_INSECURE_NO_AUTH": "true",
        "POSTROOM_RATE_LIMIT": "0",
        "POSTROOM_DAILY_QUOTA": "0",
        "POSTROOM_WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8",
        "POSTROOM_LOG_LEVEL": "warning",
    }
    simulator = [
        *(str(BIN / "postroom"), "fake-provider", "--port", str(SIM_PORT)),
        *("--webhook-url", f"mailgun={RECEIVER}/forward", "--mailgun-signing-key", SIGNING_KEY),
    ]
    relay = ("--record", "--forward", f"{API}/webhooks/mailgun")
    free(API_PORT, SIM_PORT)
    found: dict[str, list[float]] = {"bounced": [], "sent": [], "suppressed": []}
    try:
        with (
            running(receiver(0, *relay), f"{RECEIVER}/count"),
            running(pinned(simulator, 1), f"{SIM}/_sim/behaviour"),
            running(pinned([str(BIN / "postroom"), "serve"], 0), f"{API}/readyz", env),
        ):
            get(f"{API}/api/v1/webhooks", {"url": f"{RECEIVER}/hook"})
            for n in range(emails):
                email_id = send(f"bounce+{n}@simulator.example.com", n)
                # Idle: the next email only once this one's webhooks are in.
                bounced = get(f"{RECEIVER}/wait/{email_id}/email.bounced")
                posted = get(f"{RECEIVER}/forwarded/{email_id}")["at"]
                found["bounced"].append(bounced["at"] - posted)
                # `sent` is Postroom's own event: its payload's time is when it was recorded.
                found["sent"].append(since_event(email_id, "email.sent"))
            # The bounced addresses are suppressed now: a second email to one is not sent,
            # only its own `suppressed` event recorded, with no provider event to wake anything.
            for n in range(emails):
                email_id = send(f"bounce+{n}@simulator.example.com", n)
                found["suppressed"].append(since_event(email_id, "email.suppressed"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return found


def send(recipient: str, n: int) -> str:
    email = {"from": "shop@example.com", "to": [recipient], "subject": f"Bench {n}", "text": "Hi"}
    return str(get(f"{API}/api/v1/email", email)["id"])


def since_event(email_id: str, kind: str) -> float:
    """Seconds from the event's own time (data.at, ms) to its webhook's arrival."""
    arrived = get(f"{RECEIVER}/wait/{email_id}/{kind}")
    return float(arrived["at"]) - iso_seconds(arrived["event_at"])


def latency(args: argparse.Namespace) -> None:
    found = bounce_latency(args.emails)
    print("\n| webhook | measured from | emails | p50 ms | p99 ms | max ms | target |")
    print("|---|---|---|---|---|---|---|")
    for kind, start, target in (
        ("email.bounced", "the simulator's post reaching the relay", "p99 ≤ 1,000 ms"),
        ("email.sent", "the `sent` event's recorded time (payload data.at)", ""),
        ("email.suppressed", "the `suppressed` event's recorded time (data.at)", ""),
    ):
        values = [v * 1000 for v in found[kind.split(".")[1]]]
        print(
            f"| {kind} | {start} | {len(values)} | {percentile(values, 0.5):.0f} "
            f"| {percentile(values, 0.99):.0f} | {max(values):.0f} | {target} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--latencies", type=float, nargs="+", default=[0, 50])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--emails", type=int, default=200, help="bounces for the latency part")
    parser.add_argument("--quick", action="store_true", help="2,000 webhooks, 1 round, 20 bounces")
    parser.add_argument("--no-pin", action="store_true", help="let processes share both cores")
    parser.add_argument("--skip", choices=["throughput", "latency"], help="leave one part out")
    args = parser.parse_args()
    if args.quick:
        args.webhooks, args.rounds, args.emails = 2_000, 1, 20
    delivery.PIN = delivery.PIN and not args.no_pin
    print(f"worker and receiver on separate cores: {'yes' if delivery.PIN else 'no'}\n")
    if args.skip != "throughput":
        throughput(args)
    if args.skip != "latency":
        latency(args)


if __name__ == "__main__":
    main()
