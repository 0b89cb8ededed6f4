"""Delivery throughput of one worker process, and failover time, against the simulator.

One `postroom fake-provider` process plays the provider (SendGrid's API, or Mailgun's); one
`postroom worker` process delivers emails stored beforehand in a SQLite file. Deliveries/s is
counted from the worker's own `sent` events (first to last), so start-up is not included.

    python bench/delivery.py                          # 0 ms and 50 ms provider latency
    python bench/delivery.py --emails 20000 --concurrency 128
"""

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._servers import BIN, running
from postroom.clocks.system import SystemClock
from postroom.domain.ids import new_id
from postroom.domain.message import Address, Email
from postroom.ports.queue import NewEmail
from postroom.services.codec import encode_email
from postroom.storage.sqlite import sqlite_storage

SIM_PORT = 18490
# The worker and the simulator each get a core of their own when `taskset` is there, so the
# worker's figure is not what is left over after the simulator (it can be turned off: --no-pin).
PIN = shutil.which("taskset") is not None


def pinned(command: list[str], cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if PIN else command


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads, from /proc (Linux)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuWindow:
    """CPU spent by the worker and the simulator while the middle 80 % of the emails were
    sent: the per-email cost, which the machine's noise moves far less than the rate."""

    def __init__(self, emails: int, worker: int, simulator: int) -> None:
        self._first, self._last = emails // 10, emails - emails // 10
        self._pids = (worker, simulator)
        self._start: tuple[int, float, float] | None = None
        self.per_email: tuple[float, float] | None = None

    def observe(self, sent: int) -> None:
        if self._start is None:
            if sent >= self._first:
                self._start = (sent, *(cpu_seconds(pid) for pid in self._pids))
            return
        if self.per_email is None and sent >= self._last and sent > self._start[0]:
            n = sent - self._start[0]
            worker, simulator = (cpu_seconds(pid) for pid in self._pids)
            self.per_email = ((worker - self._start[1]) / n, (simulator - self._start[2]) / n)


SIM = f"http://127.0.0.1:{SIM_PORT}"
EMAIL = Email(
    sender=Address("billing@shop.example.com", "Example Shop"),
    to=(Address("ann.lee@example.org", "Ann Lee"),),
    subject="Your invoice INV-2026-004211",
    text="Hello Ann,\n\nYour invoice is ready.\n" * 8,
    tags=("invoice",),
    metadata=(("customer", "c-88121"),),
)


async def fill(path: Path, count: int) -> None:
    clock = SystemClock()
    storage = sqlite_storage(str(path), clock)
    payload = encode_email(EMAIL)
    await asyncio.gather(
        *(
            storage.queue.put(
                NewEmail(
                    new_id(int(clock.now() * 1000), n.to_bytes(10, "big")), payload, clock.now()
                )
            )
            for n in range(count)
        )
    )
    await storage.close()


def sim(path: str, changes: dict[str, Any] | None = None) -> Any:
    data = json.dumps(changes).encode() if changes is not None else None
    request = urllib.request.Request(SIM + path, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.loads(reply.read())


def count(db: Path, state: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(
            conn.execute("SELECT count(*) FROM emails WHERE state = ?", (state,)).fetchone()[0]
        )


def sent_span(db: Path) -> tuple[float, float]:
    with sqlite3.connect(db) as conn:
        first, last = conn.execute(
            "SELECT min(at), max(at) FROM events WHERE state = 'sent'"
        ).fetchone()
    return float(first), float(last)


def deliver(emails: int, concurrency: int, latency_ms: int, provider: str) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="postroom-delivery-"))
    db = workdir / "bench.db"
    try:
        asyncio.run(fill(db, emails))
        simulator = [
            str(BIN / "postroom"),
            "fake-provider",
            "--port",
            str(SIM_PORT),
            "--latency-ms",
            str(latency_ms),
        ]
        urls = {
            "sendgrid": f"sendgrid://SG.bench?base_url={SIM}",
            "mailgun": f"mailgun://key@mg.example.com?base_url={SIM}",
        }
        env = {
            "POSTROOM_DATABASE_URL": f"sqlite:///{db}",
            "POSTROOM_PROVIDERS": urls[provider],
            "POSTROOM_CONCURRENCY": str(concurrency),
            "POSTROOM_LOG_LEVEL": "warning",
        }
        with (
            running(pinned(simulator, 1), f"{SIM}/_sim/behaviour") as sim_process,
            running(pinned([str(BIN / "postroom"), "worker"], 0), None, env) as worker,
        ):
            window = CpuWindow(emails, worker.pid, sim_process.pid)
            deadline = time.monotonic() + 600
            while (sent := count(db, "sent")) < emails and time.monotonic() < deadline:
                window.observe(sent)
                time.sleep(0.05)
            window.observe(sent)
        first, last = sent_span(db)
        return {
            "emails": emails,
            "sent": count(db, "sent"),
            "per_second": emails / (last - first),
            "worker_us": window.per_email[0] * 1e6 if window.per_email else float("nan"),
            "simulator_us": window.per_email[1] * 1e6 if window.per_email else float("nan"),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _post_all(emails: int, concurrency: int) -> float:
    """The ceiling: SendGrid's payload for the same email POSTed by aiohttp, no queue, no worker."""
    import aiohttp

    from postroom.domain.ids import message_id_header
    from postroom.ports.provider import Outgoing
    from postroom.providers.sendgrid import build_payload, encode

    body = encode(build_payload(Outgoing("x", EMAIL, message_id_header("x", "shop.example.com"))))
    headers = {"Authorization": "Bearer SG.bench", "Content-Type": "application/json"}
    left = emails

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with session.post(f"{SIM}/v3/mail/send", data=body, headers=headers) as reply:
                await reply.read()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        return emails / (time.perf_counter() - started)


def ceiling(emails: int, concurrency: int, latency_ms: int) -> float:
    simulator = [
        str(BIN / "postroom"),
        "fake-provider",
        "--port",
        str(SIM_PORT),
        "--latency-ms",
        str(latency_ms),
    ]
    import uvloop

    with running(pinned(simulator, 1), f"{SIM}/_sim/behaviour"):
        # The client takes the worker's core for the time of the run.
        cores = os.sched_getaffinity(0)
        if PIN:
            os.sched_setaffinity(0, {0})
        try:
            return uvloop.run(_post_all(emails, concurrency))
        finally:
            os.sched_setaffinity(0, cores)


def failover(emails: int, concurrency: int) -> dict[str, float]:
    """Mailgun first, SendGrid second; Mailgun goes down after a third of the emails."""
    workdir = Path(tempfile.mkdtemp(prefix="postroom-failover-"))
    db = workdir / "bench.db"
    try:
        asyncio.run(fill(db, emails))
        simulator = [str(BIN / "postroom"), "fake-provider", "--port", str(SIM_PORT)]
        providers = (
            f"mailgun://key@mg.example.com?base_url={SIM},sendgrid://SG.bench?base_url={SIM}"
        )
        env = {
            "POSTROOM_DATABASE_URL": f"sqlite:///{db}",
            "POSTROOM_PROVIDERS": providers,
            "POSTROOM_CONCURRENCY": str(concurrency),
            "POSTROOM_LOG_LEVEL": "warning",
        }
        with running(simulator, f"{SIM}/_sim/behaviour"):
            sim("/_sim/behaviour", {"only": ["mailgun"], "outage_after": emails // 3})
            with running([str(BIN / "postroom"), "worker"], None, env):
                deadline = time.monotonic() + 600
                while count(db, "sent") < emails and time.monotonic() < deadline:
                    time.sleep(0.2)
            since = sim("/_sim/behaviour")["outage_since"]
            accepted = sim("/_sim/accepted")["accepted"]
        after = [a["at"] for a in accepted if a["provider"] == "sendgrid"]
        return {
            "failover_seconds": min(after) - since,
            "sent": count(db, "sent"),
            "failed": count(db, "failed"),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--provider", choices=["sendgrid", "mailgun"], default="sendgrid")
    parser.add_argument("--latencies", type=int, nargs="+", default=[0, 50])
    parser.add_argument("--no-pin", action="store_true", help="let processes share both cores")
    parser.add_argument("--no-failover", action="store_true", help="skip the failover run")
    args = parser.parse_args()
    global PIN
    PIN = PIN and not args.no_pin
    print(f"worker and simulator on separate cores: {'yes' if PIN else 'no'}\n")
    print(
        "| provider latency | concurrency | worker deliveries/s | aiohttp alone, no queue | ratio"
        " | target | sent | worker CPU µs/email | simulator CPU µs/email |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for latency in args.latencies:
        result = deliver(args.emails, args.concurrency, latency, args.provider)
        alone = ceiling(args.emails, args.concurrency, latency)
        target = 2000.0 if latency == 0 else 0.9 * args.concurrency / (latency / 1000)
        print(
            f"| {latency} ms | {args.concurrency} | {result['per_second']:,.0f} | {alone:,.0f} "
            f"| {result['per_second'] / alone:.2f} | {target:,.0f} "
            f"| {result['sent']:,}/{result['emails']:,} "
            f"| {result['worker_us']:.0f} | {result['simulator_us']:.0f} |",
            flush=True,
        )
    if args.no_failover:
        return
    result = failover(max(3000, args.emails // 3), args.concurrency)
    print(
        "\nfailover (primary down -> first email accepted by the next): "
        f"{result['failover_seconds'] * 1000:.0f} ms; "
        f"sent {result['sent']:,}, failed {result['failed']}"
    )


if __name__ == "__main__":
    main()
