"""Structured logs: one JSON object per line, ids and states only.

Nothing that can hold personal data is ever a field: callers pass ids, states, provider names,
codes and timings. Exception messages are left out as well (a library's message can quote the
data it choked on); the type and the code location are enough to find the bug.
"""

import json
import logging
import sys
import time
import traceback
from contextvars import ContextVar
from typing import Any

LOGGER_NAME = "postroom"

# The id of the HTTP request being served (X-Request-Id), set by the API for the request's
# task, so every line logged while serving it can be joined with the client's report.
REQUEST_ID: ContextVar[str | None] = ContextVar("postroom_request_id", default=None)


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": _event_name(record),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        line.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = _describe(record.exc_info[1])
        return json.dumps(line, default=str)


def _event_name(record: logging.LogRecord) -> str:
    if record.name.startswith(LOGGER_NAME):
        return str(record.msg)
    # A third-party logger (uvicorn, asyncio): keep its fixed message template, not the
    # arguments interpolated into it, which may carry request data.
    return str(record.msg)[:200]


def _describe(error: BaseException) -> dict[str, Any]:
    frames = traceback.extract_tb(error.__traceback__)[-5:]
    where = [f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}:{frame.name}" for frame in frames]
    return {"type": type(error).__name__, "at": where}


def configure(level: str = "info") -> None:
    """Send every logger in the process through the JSON formatter on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Access lines would repeat what the service's own events say, at a cost per request.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def log_event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log `name` with fields; pass only ids, states, providers, codes and timings."""
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={"fields": fields})


def get_logger(component: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{component}")


def monotonic_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
