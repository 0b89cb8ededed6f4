"""Batch intake: emails accepted per second through POST /api/v1/email/batch, as a ratio to
single POST /api/v1/email intake measured on the same server in the same run
(docs/benchmarks.md, "Templates and batches").

One `postroom api` process on SQLite with an API key and per-key limits on (high enough not to
refuse), loaded by wrk: single emails (bench/request.json) and batches of that same email
repeated, in alternating turns (`--turns`, 2 s each by default). Every email counted was answered after its batch was fsynced; the script checks the
database holds them all. Beside emails/s it gives the server process's CPU time per email
(every thread, from /proc): on a machine shared with other work, emails/s follows what the
others do, CPU per email much less.

    python bench/batch.py                          # batches of 100, 8 s per load, 2 rounds
    python bench/batch.py --size 500 --rounds 3
    python bench/batch.py --distinct               # each item to other recipients

By default every item is the same email, as a single request is; `--distinct` gives each item
its own to and cc, as a real batch has, so that nothing repeated within a batch is measured as
cheaper than it is.
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._servers import BIN, ROOT, create_key, intake_env, running

PORT = 18481


def wrk(
    script: str, path: str, duration: int, connections: int, env: dict[str, str]
) -> tuple[float, int]:
    """Requests per second answered 2xx, and how many requests; raises on any other answer."""
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
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rate, int(re.search(r"(\d+) requests in", out).group(1))


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system, every thread) the process has used so far; Linux only."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid: int, emails_per_request: int, *load: Any) -> tuple[float, float]:
    """(emails/s, server CPU µs per email) of one wrk load. CPU per email barely moves when
    other work shares the machine, where emails/s does."""
    before = cpu_seconds(pid)
    rate, requests = wrk(*load)
    used = cpu_seconds(pid) - before
    return rate * emails_per_request, used / (requests * emails_per_request) * 1e6


def batch_items(email: dict[str, Any], size: int, distinct: bool) -> list[dict[str, Any]]:
    """The batch's emails: `email` repeated, or with recipients of its own per item."""
    if not distinct:
        return [email] * size
    return [
        {**email, "to": [f"Ann Lee <ann.lee+{i}@example.org>"], "cc": [f"accounts+{i}@example.org"]}
        for i in range(size)
    ]


def one_round(
    size: int, duration: int, connections: int, distinct: bool, turns: int
) -> list[float]:
    """[single emails/s, batch emails/s, single CPU µs/email, batch CPU µs/email] on one fresh
    server. The two loads take `turns` turns each, alternating, and each figure sums its
    turns: a machine whose speed drifts while the round runs then slows both alike, where one
    load after the other gave a ratio that moved with the drift."""
    data = Path(tempfile.mkdtemp(prefix="postroom-bench-batch-"))
    env = intake_env(data, rate_limit=100_000_000)
    key = create_key(env)
    email = json.loads((ROOT / "bench" / "request.json").read_text())
    body = data / "batch.json"
    body.write_text(json.dumps({"emails": batch_items(email, size, distinct)}))
    loads = {"POSTROOM_BENCH_KEY": key, "POSTROOM_BENCH_BATCH": str(body)}
    command = [str(BIN / "postroom"), "api", "--port", str(PORT)]
    turn = max(1, round(duration / turns))
    sums = [0.0, 0.0, 0.0, 0.0]  # [single emails, batched emails, single CPU s, batch CPU s]
    try:
        with running(command, f"http://127.0.0.1:{PORT}/readyz", env) as server:
            for _ in range(turns):
                single = measured(
                    server.pid, 1, "bench/post.lua", "/api/v1/email", turn, connections, loads
                )
                # Fewer connections: each request carries `size` emails.
                batch = measured(
                    server.pid,
                    size,
                    "bench/post_batch.lua",
                    "/api/v1/email/batch",
                    turn,
                    max(4, connections // 8),
                    loads,
                )
                for i, (rate, cpu) in enumerate((single, batch)):
                    sums[i] += rate * turn
                    sums[2 + i] += cpu * rate * turn
        db = sqlite3.connect(data / "bench.db")
        stored = db.execute("SELECT count(*) FROM emails").fetchone()[0]
        if stored < (sums[0] + sums[1]) * 0.9:
            raise RuntimeError(f"only {stored} emails stored")
        seconds = turn * turns
        return [sums[0] / seconds, sums[1] / seconds, sums[2] / sums[0], sums[3] / sums[1]]
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--turns", type=int, default=4, help="alternations of the loads a round")
    parser.add_argument("--distinct", action="store_true", help="other recipients per item")
    args = parser.parse_args()
    print(
        f"| round | single emails/s | batch of {args.size}: emails/s | ratio "
        "| server CPU µs/email: single | batch | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    ratios, cpu_ratios = [], []
    for n in range(1, args.rounds + 1):
        single, batch, single_cpu, batch_cpu = one_round(
            args.size, args.duration, args.connections, args.distinct, args.turns
        )
        ratios.append(batch / single)
        cpu_ratios.append(single_cpu / batch_cpu)
        print(
            f"| {n} | {single:,.0f} | {batch:,.0f} | {batch / single:.1f}x "
            f"| {single_cpu:.0f} | {batch_cpu:.1f} | {single_cpu / batch_cpu:.1f}x |"
        )
    median, cpu_median = statistics.median(ratios), statistics.median(cpu_ratios)
    print(f"| median | | | {median:.1f}x | | | {cpu_median:.1f}x |")


if __name__ == "__main__":
    main()
