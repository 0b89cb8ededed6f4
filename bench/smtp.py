"""SMTP intake throughput: messages accepted per second over parallel authenticated sessions,
against JSON intake of the same emails measured by the same machine in the same run
(docs/benchmarks.md, "SMTP intake").

`postroom smtp` and `postroom api` each run alone, one process, on a fresh SQLite database with
API keys, limits off. Each SMTP session (aiosmtplib) logs in once and sends message after message
of ~5 KB (text, HTML, a small attachment), each with its own Message-ID; the JSON load POSTs the
very same emails, as parsed from those messages, with the Message-ID as Idempotency-Key. Only a
250 (or a 202) counts, and both are given after the commit; the script checks that the database
holds at least as many emails as were acknowledged, each 250 naming an id of its own. A third
load shows the protocol's own ceiling: aiosmtpd alone on uvloop, answering 250 to every message
without reading it. The last column is the CPU time the SMTP server process spent per accepted
message (all its threads, from /proc): on a machine shared with other work, throughput moves
with what the others take, that figure much less.

    python bench/smtp.py                       # 16 sessions, 3 rounds
    python bench/smtp.py --messages 20000 --sessions 32
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import aiohttp
import aiosmtplib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._servers import BIN, running
from postroom.smtp.parse import parse_message

HTTP_PORT, SMTP_PORT, NOOP_PORT = 18482, 18525, 18526
RECIPIENTS = ["Ann Lee <ann@example.org>"]


def message(n: int) -> bytes:
    """A ~5 KB order confirmation: names, a subject, text and HTML, a 1 KB attachment."""
    email = EmailMessage()
    email["From"] = "Shop Ltd <shop@example.com>"
    email["To"] = ", ".join(RECIPIENTS)
    email["Subject"] = f"Your order {n} has shipped"
    email["Message-ID"] = f"<bench-{n}-{os.urandom(6).hex()}@shop.example.com>"
    email["X-Postroom-Tags"] = "shipping"
    lines = [f"Item {i}: a thing you ordered, quantity {i % 3 + 1}" for i in range(30)]
    email.set_content("\n".join(["Hello Ann,", *lines, "Thanks!"]))
    email.add_alternative("<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>", "html")
    email.add_attachment(os.urandom(1024), maintype="application", subtype="pdf", filename="a.pdf")
    return email.as_bytes(policy=SMTP)


QUEUED = re.compile(r"2\.0\.0 Ok: queued as (\S+)")


async def smtp_load(
    key: str, messages: list[bytes], sessions: int, port: int = SMTP_PORT
) -> tuple[float, int]:
    """Every message over `sessions` parallel connections, each its own client as a fleet of
    application processes has (logged in when given a key); (seconds, 250s). With a key, each
    250 must name a new email: one id per message sent."""
    queue = list(reversed(messages))
    ids: set[str] = set()
    ok = 0

    async def session() -> None:
        nonlocal ok
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        if key:
            await client.login("bench", key)
        while queue:
            raw = queue.pop()
            # aiosmtplib raises on any reply but 250 to DATA: nothing else is counted.
            _, reply = await client.sendmail("shop@example.com", ["ann@example.org"], raw)
            if key:
                queued = QUEUED.match(reply)
                if queued is None:
                    raise RuntimeError(f"DATA answered {reply}")
                ids.add(queued.group(1))
            ok += 1
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(session() for _ in range(sessions)))
    elapsed = time.perf_counter() - started
    if key and len(ids) != ok:
        raise RuntimeError(f"{ok} messages accepted under {len(ids)} ids")
    return elapsed, ok


async def json_load(key: str, messages: list[bytes], concurrency: int) -> tuple[float, int]:
    """The same emails as POST /api/v1/email; (seconds, 202s)."""
    bodies = []
    for raw in messages:
        parsed = parse_message(raw, "shop@example.com", ["ann@example.org"])
        bodies.append((json.dumps(parsed.data).encode(), parsed.message_id or ""))
    queue = list(reversed(bodies))
    ok = 0

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal ok
        while queue:
            body, message_id = queue.pop()
            headers = {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {key}",
                "Idempotency-Key": message_id,
            }
            url = f"http://127.0.0.1:{HTTP_PORT}/api/v1/email"
            async with http.post(url, data=body, headers=headers) as reply:
                await reply.read()
                if reply.status != 202:
                    raise RuntimeError(f"POST answered {reply.status}")
                ok += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        return time.perf_counter() - started, ok


class _NoopHandler:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


async def _serve_noop(port: int) -> None:
    from aiosmtpd.smtp import SMTP as Protocol

    loop = asyncio.get_running_loop()
    limit = 10 * 1024 * 1024
    await loop.create_server(
        lambda: Protocol(_NoopHandler(), hostname="bench", data_size_limit=limit), "127.0.0.1", port
    )
    await asyncio.Event().wait()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, all its threads (proc(5), fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stored(database: Path) -> int:
    return int(sqlite3.connect(database).execute("SELECT count(*) FROM emails").fetchone()[0])


def one_round(args: argparse.Namespace) -> dict[str, float]:
    data = Path(tempfile.mkdtemp(prefix="postroom-bench-smtp-"))
    database = data / "bench.db"
    env = {
        "POSTROOM_DATABASE_URL": f"sqlite:///{database}",
        "POSTROOM_LOG_LEVEL": "warning",
        "POSTROOM_RATE_LIMIT": "0",
        "POSTROOM_DAILY_QUOTA": "0",
        "POSTROOM_PROVIDERS": f"outbox://{data}/outbox",
        "POSTROOM_SMTP_PORT": str(SMTP_PORT),
    }
    try:
        created = subprocess.run(
            [str(BIN / "postroom"), "keys", "create", "--name", "bench"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        key = re.search(r"pr_[A-Za-z0-9_-]{20,}", created.stdout)
        assert key, created.stderr
        smtp_messages = [message(n) for n in range(args.messages)]
        json_messages = [message(n) for n in range(args.messages)]
        with running([str(BIN / "postroom"), "smtp"], None, env) as server:
            wait_for_port(SMTP_PORT)
            cpu_before = cpu_seconds(server.pid)
            smtp_s, smtp_n = asyncio.run(smtp_load(key.group(0), smtp_messages, args.sessions))
            smtp_cpu = cpu_seconds(server.pid) - cpu_before
        if stored(database) < smtp_n:
            raise RuntimeError(f"{smtp_n} acknowledged over SMTP, {stored(database)} stored")
        noop = [sys.executable, __file__, "--serve-noop"]
        with running(noop, None, {}):
            wait_for_port(NOOP_PORT)
            noop_s, noop_n = asyncio.run(smtp_load("", smtp_messages, args.sessions, NOOP_PORT))
        command = [str(BIN / "postroom"), "api", "--port", str(HTTP_PORT)]
        with running(command, f"http://127.0.0.1:{HTTP_PORT}/readyz", env):
            json_s, json_n = asyncio.run(json_load(key.group(0), json_messages, args.sessions))
        if stored(database) < smtp_n + json_n:
            raise RuntimeError(f"{smtp_n + json_n} acknowledged, {stored(database)} stored")
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return {
        "smtp": smtp_n / smtp_s,
        "json": json_n / json_s,
        "noop": noop_n / noop_s,
        "bytes": len(smtp_messages[0]),
        "cpu_ms": 1000 * smtp_cpu / smtp_n,
    }


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-noop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_noop:
        import uvloop

        uvloop.run(_serve_noop(NOOP_PORT))
        return
    print(
        "| round | message bytes | SMTP messages/s | JSON emails/s | ratio "
        "| no-op aiosmtpd messages/s | SMTP / no-op | SMTP server CPU ms/message |"
    )
    print("|---|---|---|---|---|---|---|---|")
    ratios = []
    for round_ in range(1, args.rounds + 1):
        r = one_round(args)
        ratios.append(r["smtp"] / r["json"])
        print(
            f"| {round_} | {r['bytes']:,.0f} | {r['smtp']:,.0f} | {r['json']:,.0f} "
            f"| {r['smtp'] / r['json']:.2f} | {r['noop']:,.0f} | {r['smtp'] / r['noop']:.2f} "
            f"| {r['cpu_ms']:.2f} |",
            flush=True,
        )
    print(f"| median | | | | {statistics.median(ratios):.2f} | | | |", flush=True)


if __name__ == "__main__":
    main()
