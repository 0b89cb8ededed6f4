"""Batch intake: emails accepted per second through POST /api/v1/email/batch, as a ratio to
single POST /api/v1/email intake measured on the same server in the same run
(docs/benchmarks.md, "Batches").

One `postroom api` process on SQLite with an API key and per-key limits on (high enough not to
refuse), loaded by wrk: first single emails (bench/request.json), then batches of that same email
repeated. Every email counted was answered after its batch was fsynced; the script checks the
database holds them all.

    python bench/batch.py                          # batches of 100, 8 s per load, 2 rounds
    python bench/batch.py --size 500 --rounds 3
"""

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._servers import BIN, ROOT, create_key, running

PORT = 18481


def wrk(script: str, path: str, duration: int, connections: int, env: dict[str, str]) -> float:
    """Requests per second answered 2xx; raises on any other answer."""
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "-s",
            script,
            f"http://127.0.0.1:{PORT}{path}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"errors during the run:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def one_round(size: int, duration: int, connections: int) -> tuple[float, float]:
    """(single emails/s, batch emails/s) on one fresh server."""
    data = Path(tempfile.mkdtemp(prefix="postroom-bench-batch-"))
    env = {
        "POSTROOM_DATABASE_URL": f"sqlite:///{data}/bench.db",
        "POSTROOM_LOG_LEVEL": "warning",
        "POSTROOM_RATE_LIMIT": "100000000",
        "POSTROOM_DAILY_QUOTA": "1000000000",
    }
    key = create_key(env)
    email = json.loads((ROOT / "bench" / "request.json").read_text())
    body = data / "batch.json"
    body.write_text(json.dumps({"emails": [email] * size}))
    loads = {"POSTROOM_BENCH_KEY": key, "POSTROOM_BENCH_BATCH": str(body)}
    command = [str(BIN / "postroom"), "api", "--port", str(PORT)]
    try:
        with running(command, f"http://127.0.0.1:{PORT}/readyz", env):
            single = wrk("bench/post.lua", "/api/v1/email", duration, connections, loads)
            # Fewer connections: each request carries `size` emails.
            batch = size * wrk(
                "bench/post_batch.lua",
                "/api/v1/email/batch",
                duration,
                max(4, connections // 8),
                loads,
            )
        db = sqlite3.connect(data / "bench.db")
        stored = db.execute("SELECT count(*) FROM emails").fetchone()[0]
        if stored < (single + batch) * duration * 0.9:
            raise RuntimeError(f"only {stored} emails stored")
        return single, batch
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"| round | single emails/s | batch of {args.size}: emails/s | ratio |")
    print("|---|---|---|---|")
    ratios = []
    for n in range(1, args.rounds + 1):
        single, batch = one_round(args.size, args.duration, args.connections)
        ratios.append(batch / single)
        print(f"| {n} | {single:,.0f} | {batch:,.0f} | {batch / single:.1f}x |")
    print(f"| median | | | {statistics.median(ratios):.1f}x |")


if __name__ == "__main__":
    main()
