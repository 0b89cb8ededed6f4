"""Durable intake throughput: Postroom's POST /api/v1/email against a no-op endpoint.

Both are served the same way (uvicorn, uvloop, httptools, N processes on one socket) and loaded
by wrk in the same run, so the ratio holds on a noisy machine. Every Postroom answer counted is a
202 given after the email was fsynced; the script checks that the database holds them all.

    python bench/intake.py                 # 1 and 2 processes, 10 s each
    python bench/intake.py --duration 20 --connections 128
"""

import argparse
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

from bench._servers import BIN, ROOT, create_key, intake_env, running

PORT = 18480


def wrk(duration: int, connections: int, key: str = "") -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            "bench/post.lua",
            f"http://127.0.0.1:{PORT}/api/v1/email",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "POSTROOM_BENCH_KEY": key},
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"errors during the run:\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99_ms": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def noop(processes: int, duration: int, connections: int) -> dict[str, float]:
    command = [
        str(BIN / "uvicorn"),
        "bench.noop_app:app",
        "--port",
        str(PORT),
        "--workers",
        str(processes),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with running(command, f"http://127.0.0.1:{PORT}/"):
        return wrk(duration, connections)


def cpu_seconds(group: int) -> float:
    """CPU time (user and system, every thread) the live processes of a process group have
    used so far; Linux only."""
    total = 0
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # not a process, or gone meanwhile
        if int(stat[2]) == group:
            total += int(stat[11]) + int(stat[12])
    return total / os.sysconf("SC_CLK_TCK")


def postroom(processes: int, duration: int, connections: int) -> dict[str, float]:
    data = Path(tempfile.mkdtemp(prefix="postroom-bench-"))
    env = intake_env(data, rate_limit=1_000_000)
    # With authentication on, as in production: every request carries an API key.
    key = create_key(env)
    command = [str(BIN / "postroom"), "api", "--port", str(PORT), "--processes", str(processes)]
    try:
        with running(command, f"http://127.0.0.1:{PORT}/readyz", env) as server:
            before = cpu_seconds(server.pid)
            result = wrk(duration, connections, key)
            # The servers' CPU per answer moves far less than req/s on a shared machine.
            result["cpu_us"] = (cpu_seconds(server.pid) - before) / result["requests"] * 1e6
        stored = (
            sqlite3.connect(data / "bench.db").execute("SELECT count(*) FROM emails").fetchone()[0]
        )
        if stored < result["requests"]:
            raise RuntimeError(f"{result['requests']} answered but only {stored} stored")
        result["stored"] = stored
        return result
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--rounds", type=int, default=3, help="no-op/Postroom pairs per size; medians reported"
    )
    args = parser.parse_args()
    print(
        "| processes | round | no-op req/s | Postroom durable req/s | ratio | p50 ms | p99 ms"
        " | server CPU µs/req |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in args.processes:
        ratios, cpus = [], []
        for round_ in range(1, args.rounds + 1):
            base = noop(n, args.duration, args.connections)
            ours = postroom(n, args.duration, args.connections)
            ratios.append(ours["rps"] / base["rps"])
            cpus.append(ours["cpu_us"])
            print(
                f"| {n} | {round_} | {base['rps']:,.0f} | {ours['rps']:,.0f} | {ours['rps'] / base['rps']:.2f} "
                f"| {ours['p50_ms']:.2f} | {ours['p99_ms']:.2f} | {ours['cpu_us']:.0f} |",
                flush=True,
            )
        print(
            f"| {n} | median | | | {statistics.median(ratios):.2f} | | | {statistics.median(cpus):.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
