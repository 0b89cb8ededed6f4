"""How late scheduled emails go out while the worker is idle (and that none goes out early).

Starts `postroom serve` (SQLite, outbox provider), schedules emails over the next seconds through
the API, waits for them, and reads the lateness from each email's events: the `sent` event's time
minus its `sendAt`.

    python bench/scheduled.py                 # 100 emails over 10 s
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._servers import BIN, running

PORT = 18485
BASE = f"http://127.0.0.1:{PORT}"


def call(method: str, path: str, body: object = None) -> dict[str, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        BASE + path, data, {"Content-Type": "application/json"}, method=method
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=100)
    parser.add_argument("--spread", type=float, default=10.0)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="postroom-scheduled-"))
    env = {
        "POSTROOM_DATABASE_URL": f"sqlite:///{workdir}/db.sqlite",
        "POSTROOM_PROVIDERS": f"outbox://{workdir}/outbox",
        "POSTROOM_LOG_LEVEL": "warning",
        # Authentication off: this measures the worker's timing, nothing else.
        "POSTROOM_INSECURE_NO_AUTH": "true",
    }
    try:
        with running([str(BIN / "postroom"), "serve", "--port", str(PORT)], f"{BASE}/healthz", env):
            start = time.time() + 2
            ids = {}
            for n in range(args.emails):
                send_at = start + args.spread * n / args.emails
                email = {
                    "from": "shop@example.com",
                    "to": ["ann@example.org"],
                    "subject": "x",
                    "sendAt": send_at,
                }
                ids[call("POST", "/api/v1/email", email)["id"]] = send_at
            time.sleep(max(0.0, start + args.spread - time.time()))
            lateness = []
            for email_id, send_at in ids.items():
                for _ in range(100):
                    events = call("GET", f"/api/v1/email/{email_id}")["events"]
                    sent = [e for e in events if e["status"] == "sent"]  # type: ignore[union-attr]
                    if sent:
                        break
                    time.sleep(0.1)
                lateness.append(datetime.fromisoformat(sent[0]["at"]).timestamp() - send_at)
        lateness.sort()
        p99 = lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))]
        print(
            f"{len(lateness)} scheduled emails, idle worker: lateness p50 {statistics.median(lateness) * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms, max {lateness[-1] * 1000:.0f} ms, earliest {lateness[0] * 1000:+.0f} ms"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
