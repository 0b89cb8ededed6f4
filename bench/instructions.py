"""Instructions the intake costs per email, counted by valgrind: a figure that a busy machine
does not move (docs/benchmarks.md, "Templates and batches").

The API app is built as `postroom api` builds it (SQLite in a new directory, an API key) and
driven in process through ASGI, one request after another: batches of `bench/request.json`
repeated, or single emails. Each count is taken twice, after `--low` and after `--high`
requests, under `valgrind --tool=callgrind`; the difference divided by the emails between them
leaves out start-up. Every thread is counted (the SQLite writer's too). Needs valgrind
(Debian's package `valgrind`).

    python bench/instructions.py                   # batches of 100: 2 against 12 requests
    python bench/instructions.py --single --low 20 --high 220
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._servers import ROOT, create_key, intake_env

BATCH_PATH, SINGLE_PATH = "/api/v1/email/batch", "/api/v1/email"


def body(single: bool, size: int) -> bytes:
    email = json.loads((ROOT / "bench" / "request.json").read_text())
    return json.dumps(email if single else {"emails": [email] * size}).encode()


async def post(app: Any, path: str, content: bytes, key: str) -> None:
    """One request through the ASGI app; raises unless it was accepted."""
    headers = [
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {key}".encode()),
        (b"content-length", str(len(content)).encode()),
    ]
    scope = {
        **{"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1"},
        **{"method": "POST", "scheme": "http", "path": path, "raw_path": path.encode()},
        **{"query_string": b"", "root_path": "", "headers": headers},
        **{"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)},
    }
    messages = [{"type": "http.request", "body": content, "more_body": False}]
    statuses = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client never goes away
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    if statuses[0] not in (200, 202):
        raise RuntimeError(f"answered {statuses[0]}")


async def drive(requests: int, single: bool, size: int) -> None:
    """Start the app, send `requests` requests (after 3 to warm it), stop it."""
    from postroom.bootstrap import build_app
    from postroom.bootstrap.heap import settle_heap
    from postroom.cli.serving import tune_interpreter
    from postroom.settings import load_settings

    app = build_app(load_settings(os.environ), with_worker=False)
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    lifespan = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put)
    )
    await inbox.put({"type": "lifespan.startup"})
    await outbox.get()
    tune_interpreter()
    settle_heap()
    path, content = (SINGLE_PATH if single else BATCH_PATH), body(single, size)
    for _ in range(3 + requests):
        await post(app, path, content, os.environ["POSTROOM_BENCH_KEY"])
    await inbox.put({"type": "lifespan.shutdown"})
    await outbox.get()
    await lifespan


def counted(requests: int, single: bool, size: int) -> int:
    """Instructions of one run of `drive` under callgrind, every thread."""
    data = Path(tempfile.mkdtemp(prefix="postroom-bench-instructions-"))
    # The same dict layouts, so the same counts, run after run.
    env = {**intake_env(data, rate_limit=100_000_000), "PYTHONHASHSEED": "0"}
    try:
        env["POSTROOM_BENCH_KEY"] = create_key(env)
        command = [
            *("valgrind", "--tool=callgrind", f"--callgrind-out-file={data}/callgrind.out"),
            *(sys.executable, __file__, "--drive", str(requests), "--size", str(size)),
            *(["--single"] if single else []),
        ]
        run = subprocess.run(
            command, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True
        )
        found = re.search(r"Collected : (\d+)", run.stderr)
        if run.returncode != 0 or found is None:
            raise RuntimeError(f"the run failed:\n{run.stderr[-2000:]}")
        return int(found.group(1))
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", action="store_true", help="single emails, not batches")
    parser.add_argument("--size", type=int, default=100, help="emails a batch")
    parser.add_argument("--low", type=int, default=2, help="requests of the first count")
    parser.add_argument("--high", type=int, default=12, help="requests of the second count")
    parser.add_argument("--drive", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive is not None:
        asyncio.run(drive(args.drive, args.single, args.size))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    low, high = (counted(n, args.single, args.size) for n in (args.low, args.high))
    emails = (args.high - args.low) * (1 if args.single else args.size)
    kind = "single email" if args.single else f"email in batches of {args.size}"
    print(f"{(high - low) / emails:,.0f} instructions per {kind}")


if __name__ == "__main__":
    main()
