"""Runs moto's standalone server with a clock the tests can move forward.

SQS's delays and visibility timeouts run on the server's clock. The contract suite moves its own
clock by hand (no sleeping); this moves moto's by the same amount, so a message hidden for 60 s
is visible again once the test advances 61 s. The offset, in seconds, is read from the file
named by MOTO_CLOCK_FILE (absent or empty: 0) at the start of each request.

Used as `python -P moto_clock.py -H HOST -p PORT` (-P: this folder must not shadow `http`).
"""

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from moto.core import utils
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main
from moto.sqs import models

_FILE = Path(os.environ["MOTO_CLOCK_FILE"])
_real_unix_time = utils.unix_time
# Read once per request, not per time lookup: moto looks up the time for every message it counts.
_offset = 0.0


def _read_offset() -> None:
    global _offset
    try:
        text = _FILE.read_text().strip()
    except FileNotFoundError:
        text = ""
    _offset = float(text) if text else 0.0


def unix_time(dt: datetime | None = None) -> float:
    # Only "now" moves; a given datetime converts as before.
    return _real_unix_time(dt) + (0.0 if dt is not None else _offset)


def unix_time_millis(dt: datetime | None = None) -> float:
    return unix_time(dt) * 1000.0


for module in (utils, models):
    module.unix_time = unix_time  # type: ignore[attr-defined]
    module.unix_time_millis = unix_time_millis  # type: ignore[attr-defined]

_dispatch = DomainDispatcherApplication.__call__


def _call(self: DomainDispatcherApplication, environ: dict[str, Any], start: Any) -> Any:
    _read_offset()
    return _dispatch(self, environ, start)


DomainDispatcherApplication.__call__ = _call  # type: ignore[method-assign]

if __name__ == "__main__":
    main(sys.argv[1:])
