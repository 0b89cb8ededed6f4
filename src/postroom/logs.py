"""Structured logs: one JSON object per line (or one text line on a terminal), ids and states.

Nothing that can hold personal data is ever a field: callers pass ids, states, provider names,
codes and timings. Exception messages are left out as well (a library's message can quote the
data it choked on); the type and the code location are enough to find the bug.
"""

import json
import logging
import sys
import time
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TextIO
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

LOGGER_NAME = "postroom"

# The id of the HTTP request being served (X-Request-Id), set by the API for the request's
# task, so every line logged while serving it can be joined with the client's report.
REQUEST_ID: ContextVar[str | None] = ContextVar("postroom_request_id", default=None)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The line's fields: the same for both formats, so text on a terminal says what JSON says."""
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
    return line


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str)


class TextLineFormatter(logging.Formatter):
    """`HH:MM:SS level  logger  event key=value ...`: for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = _fields(record)
        when = time.strftime("%H:%M:%S", time.localtime(line.pop("ts")))
        head = f"{when} {line.pop('level'):7} {line.pop('logger')}  {line.pop('event')}"
        rest = " ".join(f"{key}={_text_value(value)}" for key, value in line.items())
        return f"{head}  {rest}" if rest else head


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if not text or any(c.isspace() or c == '"' for c in text) else text


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


def use_text(log_format: str, stream: TextIO) -> bool:
    """`text`, `json`, or `auto`: text when a person reads the stream (a terminal)."""
    if log_format == "auto":
        return stream.isatty()
    return log_format == "text"


def configure(level: str = "info", log_format: str = "auto") -> None:
    """Send every logger in the process through one formatter on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    text = use_text(log_format, sys.stderr)
    handler.setFormatter(TextLineFormatter() if text else JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Access lines would repeat what the service's own events say, at a cost per request.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # uvicorn's start and stop lines are templates whose arguments the formatter drops
    # ("Uvicorn running on %s://%s:%d"); the start-up banner says where it listens instead.
    # Its warnings and errors (a port already in use) still come through.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)


class RateLimitedLog:
    """Log each named event at most once per `every` seconds, so an outage that fails every
    request writes a line every ten seconds, not thousands; the next line that goes out
    carries `suppressed=N`, the lines left out since the previous one."""

    def __init__(self, every: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def __call__(
        self, logger: logging.Logger, name: str, level: int = logging.WARNING, **fields: Any
    ) -> bool:
        """Log `name` unless it was logged less than `every` seconds ago; True if logged."""
        now = self._clock()
        last = self._last.get(name)
        if last is not None and now - last < self._every:
            self._suppressed[name] = self._suppressed.get(name, 0) + 1
            return False
        self._last[name] = now
        suppressed = self._suppressed.pop(name, 0)
        if suppressed:
            fields["suppressed"] = suppressed
        log_event(logger, name, level, **fields)
        return True


def log_event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log `name` with fields; pass only ids, states, providers, codes and timings."""
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={"fields": fields})


def get_logger(component: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{component}")


def monotonic_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


# Query options whose value is a secret, by a word in their name.
_SECRET_WORDS = ("key", "token", "secret", "password", "passwd", "auth", "credential", "sig")
# Schemes whose user part names an account, not a key (mailgun://KEY@DOMAIN is a key).
_USER_IS_NAME = ("postgresql", "postgres", "smtp", "sqlite")
# Providers whose key stands where a host would: sendgrid://KEY, postmark://TOKEN.
_KEY_AS_HOST = ("sendgrid", "postmark")


def mask_url(url: str) -> str:
    """The URL with each secret as `***`: the password, a user part that is an API key, a key in
    the host's place, query values named like a secret, and the same inside URL-valued options.
    For the start-up banner and error lines, which must never show a secret."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    userinfo, at, host = parts.netloc.rpartition("@")
    if scheme in _KEY_AS_HOST:
        host = "***" if host else host
    if at:
        user, colon, _ = userinfo.partition(":")
        if colon:
            userinfo = f"{user}:***"
        elif scheme not in _USER_IS_NAME:
            userinfo = "***"
    query = [(name, _mask_option(name, value)) for name, value in parse_qsl(parts.query, True)]
    netloc = f"{userinfo}@{host}" if at else host
    masked_query = urlencode(query, safe=":/*@", quote_via=quote)
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{masked_query}" if query else "")


def _mask_option(name: str, value: str) -> str:
    if any(word in name.lower() for word in _SECRET_WORDS):
        return "***"
    return mask_url(value) if "://" in value else value
