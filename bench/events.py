"""Provider event ingestion: signed webhook requests into `postroom api`, against JSON intake
measured by the same client in the same run (docs/benchmarks.md, "Events").

Three loads on one API process, each counted only for 2xx answers given after the events were
stored: JSON email intake (the baseline), SendGrid batches of 1,000 events (ECDSA-signed), and
single Mailgun events (HMAC-signed). Every event is distinct (no duplicate is cheaper to skip),
and the script checks the database holds them all.

    python bench/events.py                       # SQLite
    python bench/events.py --postgres            # PostgreSQL at POSTROOM_BENCH_POSTGRES_URL
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._servers import BIN, ROOT, running

PORT = 18481
SIGNING_KEY = "bench-signing-key"
EMAIL = json.loads((ROOT / "bench" / "request.json").read_text())
# A server where the benchmark may create and drop its own database.
PG_ADMIN = os.environ.get(
    "POSTROOM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def sendgrid_body(key: ec.EllipticCurvePrivateKey, size: int) -> tuple[bytes, dict[str, str]]:
    now = int(time.time())
    events = [
        {
            "email": f"user{secrets.token_hex(4)}@example.org",
            "event": "delivered",
            "timestamp": now,
            "sg_event_id": secrets.token_urlsafe(16),
            "sg_message_id": f"{secrets.token_urlsafe(16)}.filter0001",
            "postroom_id": "01" + secrets.token_hex(12),
            "response": "250 OK",
        }
        for _ in range(size)
    ]
    body = json.dumps(events).encode()
    stamp = str(now)
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return body, {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }


def mailgun_body() -> tuple[bytes, dict[str, str]]:
    stamp, token = str(int(time.time())), secrets.token_hex(25)
    signature = hmac.new(SIGNING_KEY.encode(), (stamp + token).encode(), hashlib.sha256)
    body = {
        "signature": {"timestamp": stamp, "token": token, "signature": signature.hexdigest()},
        "event-data": {
            "id": secrets.token_urlsafe(16),
            "event": "delivered",
            "recipient": f"user{secrets.token_hex(4)}@example.org",
            "timestamp": time.time(),
            "message": {"headers": {"message-id": f"{secrets.token_hex(8)}@mg.example.com"}},
            "user-variables": {"postroom_id": "01" + secrets.token_hex(12)},
        },
    }
    return json.dumps(body).encode(), {"Content-Type": "application/json"}


async def load(
    path: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int
) -> tuple[float, int]:
    """Post every request, `concurrency` at a time; (seconds taken, 2xx answers)."""
    queue = list(reversed(requests))
    ok = 0

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal ok
        while queue:
            body, headers = queue.pop()
            async with session.post(
                f"http://127.0.0.1:{PORT}{path}", data=body, headers=headers
            ) as reply:
                await reply.read()
                if reply.status >= 300:
                    raise RuntimeError(f"{path}: answered {reply.status}")
                ok += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        return time.perf_counter() - started, ok


def stored_events(database: str) -> int:
    if database.startswith("sqlite"):
        path = database.removeprefix("sqlite:///")
        return int(
            sqlite3.connect(path).execute("SELECT count(*) FROM provider_events").fetchone()[0]
        )
    import psycopg

    with psycopg.connect(database) as conn:
        return int(conn.execute("SELECT count(*) FROM postroom_provider_events").fetchone()[0])


def run(database: str, args: argparse.Namespace) -> dict[str, float]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    env = {
        "POSTROOM_DATABASE_URL": database,
        "POSTROOM_LOG_LEVEL": "warning",
        "POSTROOM_INSECURE_NO_AUTH": "true",
        "POSTROOM_RATE_LIMIT": "0",
        "POSTROOM_DAILY_QUOTA": "0",
        "POSTROOM_MAX_BODY_BYTES": str(16 * 1024 * 1024),
        "POSTROOM_PROVIDERS": (
            f"mailgun://key@mg.example.com?webhook_signing_key={SIGNING_KEY},"
            f"sendgrid://SG.key?webhook_public_key={quote(public, safe='')}"
        ),
    }
    batches = [sendgrid_body(key, args.batch) for _ in range(args.batches)]
    singles = [mailgun_body() for _ in range(args.singles)]
    emails = [(json.dumps(EMAIL).encode(), {"Content-Type": "application/json"})] * args.emails
    command = [str(BIN / "postroom"), "api", "--port", str(PORT)]
    with running(command, f"http://127.0.0.1:{PORT}/readyz", env):
        intake_s, intake_n = asyncio.run(load("/api/v1/email", emails, args.concurrency))
        batch_s, batch_n = asyncio.run(load("/webhooks/sendgrid", batches, 4))
        single_s, single_n = asyncio.run(load("/webhooks/mailgun", singles, args.concurrency))
    expected = batch_n * args.batch + single_n
    found = stored_events(database)
    if found < expected:
        raise RuntimeError(f"{expected} events acknowledged but {found} stored")
    return {
        "intake": intake_n / intake_s,
        "batch_events": batch_n * args.batch / batch_s,
        "single_events": single_n / single_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--emails", type=int, default=20_000)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--singles", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        "| engine | round | intake emails/s | SendGrid batch events/s | ratio | "
        "Mailgun single events/s | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for round_ in range(1, args.rounds + 1):
        data = Path(tempfile.mkdtemp(prefix="postroom-bench-events-"))
        try:
            if args.postgres:
                from bench.postgres import fresh_database

                with fresh_database(PG_ADMIN) as url:
                    r = run(url, args)
            else:
                r = run(f"sqlite:///{data}/bench.db", args)
        finally:
            shutil.rmtree(data, ignore_errors=True)
        print(
            f"| {'postgres' if args.postgres else 'sqlite'} | {round_} | {r['intake']:,.0f} "
            f"| {r['batch_events']:,.0f} | {r['batch_events'] / r['intake']:.1f} "
            f"| {r['single_events']:,.0f} | {r['single_events'] / r['intake']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
